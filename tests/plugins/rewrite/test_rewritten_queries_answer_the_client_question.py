"""``rewrite`` end to end: a real kdns, real clients (dnspython, dig), the client's question back.

The rewritten names are served by ``records`` (zone ``svc.test``) and, for the cluster case, by
``kubernetes`` against the fake API server.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.support import apiserver as fa
from tests.support import clients, kdnsproc

ZONE = """\
zone: svc.test
ttl: 300
records:
  web: {A: 10.0.0.1, AAAA: "fd00::1", ttl: 5}
  api: {A: 10.0.0.2, ttl: 500}
  db: {A: 10.0.0.3, ttl: 60}
  alias: {CNAME: web}
  _http._tcp.web: {SRV: "10 50 80 web"}
"""


def block(zone: str, *rules: str) -> str:
    lines = "".join(f"    {r}\n" for r in rules)
    return f"{zone}:{{port}} {{\n    bind 127.0.0.1\n{lines}    records zone.yaml\n}}\n"


def records(msg: dns.message.Message) -> list[tuple[str, int, str, str]]:
    return sorted(
        (rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
        for rrset in msg.answer
        for rd in rrset
    )


def question(msg: dns.message.Message) -> tuple[str, str]:
    (q,) = msg.question
    return q.name.to_text(), dns.rdatatype.to_text(q.rdtype)


def test_exact_name_answers_for_the_client_name_over_udp_and_tcp() -> None:
    corefile = block(".", "rewrite name foo.example.com web.svc.test")
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        for tcp in (False, True):
            reply = srv.query("Foo.Example.com.", "A", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert question(reply) == ("Foo.Example.com.", "A")
            assert records(reply) == [("Foo.Example.com.", 5, "A", "10.0.0.1")]
        # A name the rule does not match passes on untouched.
        assert records(srv.query("web.svc.test.", "A")) == [("web.svc.test.", 5, "A", "10.0.0.1")]
        other = srv.query("bar.example.com.", "A")
        assert other.rcode() == dns.rcode.SERVFAIL, "nothing after records serves example.com"


def test_regex_with_answer_auto_and_without() -> None:
    corefile = block(
        ".",
        r"rewrite continue name regex (.*)\.corp\.test {1}.svc.test answer auto",
        r"rewrite name regex (.*)\.plain\.test {1}.svc.test",
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        auto = srv.query("api.corp.test.", "A")
        assert question(auto) == ("api.corp.test.", "A")
        assert records(auto) == [("api.corp.test.", 500, "A", "10.0.0.2")]
        # CoreDNS leaves the owner names rewritten without answer options.
        plain = srv.query("api.plain.test.", "A")
        assert question(plain) == ("api.plain.test.", "A")
        assert records(plain) == [("api.svc.test.", 500, "A", "10.0.0.2")]
        # answer auto also maps names below the rewritten one, in owners and in values.
        srv_reply = srv.query("_http._tcp.web.corp.test.", "SRV")
        assert records(srv_reply) == [
            ("_http._tcp.web.corp.test.", 300, "SRV", "10 50 80 web.svc.test.")
        ]
        cname = srv.query("alias.corp.test.", "A")
        assert records(cname) == [
            ("alias.corp.test.", 300, "CNAME", "web.svc.test."),
            ("web.svc.test.", 5, "A", "10.0.0.1"),
        ]


def test_suffix_rewrites_and_answer_auto_swaps_the_suffix_back() -> None:
    corefile = block(
        ".",
        "rewrite name suffix .corp.test .svc.test answer auto",
        "rewrite name suffix .raw.test .svc.test",
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        reply = srv.query("db.corp.test.", "A")
        assert records(reply) == [("db.corp.test.", 60, "A", "10.0.0.3")]
        cname = srv.query("alias.corp.test.", "A")
        assert records(cname) == [
            ("alias.corp.test.", 300, "CNAME", "web.corp.test."),
            ("web.corp.test.", 5, "A", "10.0.0.1"),
        ]
        raw = srv.query("db.raw.test.", "A")
        assert question(raw) == ("db.raw.test.", "A")
        assert records(raw) == [("db.svc.test.", 60, "A", "10.0.0.3")]
        missing = srv.query("nope.corp.test.", "A")
        assert missing.rcode() == dns.rcode.NXDOMAIN
        assert question(missing) == ("nope.corp.test.", "A")


@pytest.mark.usefixtures("dig")
def test_stop_type_aaaa_to_a_gives_a_records_under_the_aaaa_question() -> None:
    corefile = block(".", "rewrite stop type AAAA A", "rewrite type A MX")
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        reply = srv.query("web.svc.test.", "AAAA")
        # As CoreDNS: the question is the client's, the records are of the rewritten type.
        assert question(reply) == ("web.svc.test.", "AAAA")
        assert records(reply) == [("web.svc.test.", 5, "A", "10.0.0.1")]
        out = subprocess.run(
            [
                "dig",
                "@127.0.0.1",
                "-p",
                str(srv.port),
                "web.svc.test",
                "AAAA",
                "+noall",
                "+question",
                "+answer",
                "+comments",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        assert "status: NOERROR" in out and "mismatch" not in out, out
        assert ";web.svc.test.\t\t\tIN\tAAAA" in out, out
        assert "web.svc.test.\t\t5\tIN\tA\t10.0.0.1" in out, out
        # The stop rule matched, so the second rule did not run on the rewritten A.
        assert records(srv.query("web.svc.test.", "AAAA")) != []


def test_ttl_values_and_ranges_clamp_every_record() -> None:
    corefile = block(
        "svc.test",
        "rewrite continue ttl web.svc.test 30-300",
        "rewrite continue ttl api.svc.test 30-300",
        "rewrite continue ttl db.svc.test 45",
        "rewrite continue ttl suffix corp.svc.test -11",
        "rewrite ttl prefix alias 400-",
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        assert records(srv.query("web.svc.test.", "A"))[0][1] == 30, "5 raised to the minimum"
        assert records(srv.query("api.svc.test.", "A"))[0][1] == 300, "500 cut to the maximum"
        assert records(srv.query("db.svc.test.", "A"))[0][1] == 45
        assert [r[1] for r in records(srv.query("alias.svc.test.", "A"))] == [400, 400]
        missing = srv.query("x.corp.svc.test.", "A")
        assert missing.rcode() == dns.rcode.NXDOMAIN
        assert [rrset.ttl for rrset in missing.authority] == [11], "authority clamped too"


def test_continue_chains_rules_and_stop_ends_them() -> None:
    corefile = block(
        ".",
        r"rewrite continue name regex consul\.(rocks) core.dns.{1} answer auto",
        "rewrite continue name exact core.dns.rocks web.svc.test",
        "rewrite continue type MX A",
        "rewrite stop ttl web.svc.test 77",
        "rewrite ttl web.svc.test 99",
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        reply = srv.query("consul.rocks.", "MX")
        assert question(reply) == ("consul.rocks.", "MX")
        # Response rules unwind last first: web.svc.test -> core.dns.rocks -> consul.rocks.
        assert records(reply) == [("consul.rocks.", 77, "A", "10.0.0.1")]


def test_rcode_rule_rewrites_written_and_unwritten_errors() -> None:
    corefile = block(
        ".",
        "rewrite continue rcode suffix svc.test NXDOMAIN REFUSED",
        "rewrite rcode gone.example. SERVFAIL NOERROR",
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        assert srv.query("nope.svc.test.", "A").rcode() == dns.rcode.REFUSED
        assert srv.query("web.svc.test.", "A").rcode() == dns.rcode.NOERROR
        gone = srv.query("gone.example.", "A")
        assert gone.rcode() == dns.rcode.NOERROR
        assert question(gone) == ("gone.example.", "A")


def test_an_invalid_rewritten_name_is_servfail_with_the_client_question() -> None:
    corefile = block(".", "rewrite name example.org. example..org.")
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        reply = srv.query("example.org.", "A")
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert question(reply) == ("example.org.", "A")


async def test_exact_name_to_a_cluster_service(tmp_path: Path) -> None:
    api = fa.FakeAPIServer()
    await api.start()
    try:
        api.create(fa.namespace("default"))
        api.create(fa.service("my-svc", "default", cluster_ips=["10.96.7.7"]))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        port = kdnsproc.free_port()
        (tmp_path / "Corefile").write_text(
            f".:{port} {{\n    bind 127.0.0.1\n"
            "    rewrite name foo.example.com my-svc.default.svc.cluster.local\n"
            r"    rewrite name regex (.*)\.corp\.test {1}.default.svc.cluster.local answer auto"
            "\n"
            f"    kubernetes cluster.local {{\n        kubeconfig {kubeconfig}\n    }}\n}}\n"
        )
        proc = kdnsproc.KdnsProcess(
            ["-conf", str(tmp_path / "Corefile")], cwd=str(tmp_path), env=clients.child_env()
        )
        try:
            await asyncio.to_thread(kdnsproc.wait_serving, "127.0.0.1", port, proc)
            q = dns.message.make_query("foo.example.com.", "A")
            for _ in range(50):
                reply = await asyncio.to_thread(dns.query.udp, q, "127.0.0.1", port=port, timeout=3)
                if reply.answer:
                    break
                await asyncio.sleep(0.1)
            assert question(reply) == ("foo.example.com.", "A")
            assert records(reply) == [("foo.example.com.", 5, "A", "10.96.7.7")]
            q = dns.message.make_query("my-svc.corp.test.", "A")
            reply = await asyncio.to_thread(dns.query.udp, q, "127.0.0.1", port=port, timeout=3)
            assert question(reply) == ("my-svc.corp.test.", "A")
            assert records(reply) == [("my-svc.corp.test.", 5, "A", "10.96.7.7")]
        finally:
            assert proc.stop() == 0, proc.output
    finally:
        await api.stop()


def test_cname_target_rewritten_and_resolved_through_the_server() -> None:
    zone = ZONE + "  moved: {CNAME: gone.elsewhere.}\n"
    corefile = block(".", "rewrite continue cname exact gone.elsewhere. web.svc.test.")
    with clients.serve(corefile, files={"zone.yaml": zone}) as srv:
        for tcp in (False, True):
            reply = srv.query("moved.svc.test.", "A", tcp=tcp)
            assert question(reply) == ("moved.svc.test.", "A")
            assert records(reply) == [
                ("moved.svc.test.", 300, "CNAME", "web.svc.test."),
                ("web.svc.test.", 5, "A", "10.0.0.1"),
            ]
        # A target the rule does not name is left alone.
        assert records(srv.query("alias.svc.test.", "A")) == [
            ("alias.svc.test.", 300, "CNAME", "web.svc.test."),
            ("web.svc.test.", 5, "A", "10.0.0.1"),
        ]

"""Rule semantics at the plugin seam, case by case as CoreDNS's name, reverter, edns0 and cname
tests pin them: what the next plugin is asked, and what the client gets back."""

from __future__ import annotations

import asyncio
import tracemalloc

import dns.edns
import dns.message
import dns.rcode
import dnslib
import pytest

from kdns import plugin, replay, wire
from kdns.plugins.rewrite import cname
from kdns.plugins.rewrite import handler as rewrite_handler
from kdns.plugins.rewrite.handler import Rewrite
from kdns.request import Request
from tests.support import seam


def chain(rules: str, script: seam.Script | wire.Answer) -> tuple[Rewrite, seam.Next]:
    text = "".join(f"    {line}\n" for line in rules.split(";"))
    loaded = seam.load(f". {{\n{text}}}\n")
    nxt = seam.Next(script)
    handler = dict(loaded.servers[0].factories)["rewrite"](nxt)
    assert isinstance(handler, Rewrite)
    return handler, nxt


def served(h: Rewrite, req: Request) -> wire.Answer:
    result = h.serve(req)
    if type(result) is wire.Answer:
        return result
    return asyncio.run(plugin.resolve(result))


def asked(rules: str, qname: str, qtype: str = "A") -> str:
    h, nxt = chain(rules, seam.answer("x.", "A"))
    served(h, seam.request(qname, qtype))
    (req,) = nxt.seen
    return f"{req.name} {req.qtype}"


@pytest.mark.parametrize(
    ("rules", "qname", "want"),
    [
        ("rewrite name prefix foo bar", "foo.example.com.", "bar.example.com."),
        ("rewrite name prefix foo. bar.", "foo.example.com.", "bar.example.com."),
        ("rewrite name prefix foo bar", "coredns.foo.", "coredns.foo."),
        ("rewrite name prefix foo bar", "foobar.example.", "foobar.example."),
        ("rewrite name suffix com org", "foo.example.com.", "foo.example.org."),
        ("rewrite name suffix .com .org", "foo.example.com.", "foo.example.org."),
        ("rewrite name suffix com org", "com.coredns.", "com.coredns."),
        (
            "rewrite name suffix .ingress.coredns.rocks nginx.coredns.rocks",
            "coredns.ingress.coredns.rocks.",
            "corednsnginx.coredns.rocks.",
        ),
        ("rewrite name substring from.substring to", "from.substring.nl.", "to.nl."),
        ("rewrite name substring service svc", "com.coredns.", "com.coredns."),
        (r"rewrite name regex (f.*m)\.regex\.(nl) to.{2}", "from.regex.nl.", "to.nl."),
        (
            r"rewrite continue name regex consul\.(rocks) core.dns.{1};"
            "rewrite name exact core.dns.rocks to.nl",
            "consul.rocks.",
            "to.nl.",
        ),
        ("rewrite name exact a.test B.Test", "A.TEST.", "b.test."),
    ],
)
def test_name_matching(rules: str, qname: str, want: str) -> None:
    assert asked(rules, qname) == f"{want} 1"


def test_first_matching_stop_rule_ends_rewriting() -> None:
    rules = "rewrite name from.nl to.nl;rewrite type ANY HINFO"
    assert asked(rules, "from.nl.", "ANY") == "to.nl. 255"
    assert asked(
        "rewrite continue class HS CH;rewrite stop class CH IN;rewrite type A MX", "a.", "A"
    )
    h, nxt = chain("rewrite continue class HS CH;rewrite stop class CH IN", seam.answer("a.", "A"))
    served(h, Request(seam.query("a.", "A", rdclass="HS"), "udp", ("127.0.0.1", 1)))
    assert nxt.seen[0].qclass == wire.CLASS_IN


def test_a_query_no_rule_matches_passes_on_without_allocating() -> None:
    answer = seam.answer("web.example.", "A", ["web.example. 30 IN A 192.0.2.1"])
    h, nxt = chain("rewrite name a.test b.test;rewrite type AAAA A;rewrite class CH IN", answer)
    req = seam.request("web.example.", "A")
    assert h.serve(req) is answer and nxt.seen == [req], "the client's own request goes on"
    h.next = Fixed(answer)
    assert _peak_bytes(h, req) == 0
    h.quick = (None,) * len(h.quick)
    assert _peak_bytes(h, req) > 0, "the full matcher does allocate: the measure can fail"


class Fixed:
    """A next plugin that records nothing, so only the rewrite plugin's allocations count."""

    name = "fixed"

    def __init__(self, answer: wire.Answer) -> None:
        self.answer = answer

    def serve(self, req: Request) -> wire.Answer:
        return self.answer


def _peak_bytes(h: Rewrite, req: Request) -> int:
    """Bytes allocated at the peak of one ``serve`` beyond what was live before it."""
    h.serve(req)
    tracemalloc.start()
    try:
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        h.serve(req)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - current


def svc_reply(req: Request) -> wire.Answer:
    """What a backend answers for ``*.cluster.local`` in the reverter tests of CoreDNS."""
    name = req.name
    return seam.answer(
        name,
        "SRV",
        [
            f"{name} 5 IN SRV 0 100 100 srv1.{name}",
            f"{name} 5 IN CNAME other.{name}",
            f"{name} 5 IN MX 10 mx.{name}",
            f"{name} 5 IN NS ns.{name}",
        ],
        authority=[f"{name} 5 IN SOA ns.{name} host.{name} 1 2 3 4 5"],
        additional=[f"srv1.{name} 5 IN A 10.0.0.1"],
    )


def test_answer_name_and_value_rewrite_owners_and_targets() -> None:
    rules = (
        r"rewrite name regex (.*)\.domain\.uk {1}.cluster.local "
        r"answer name (.*)\.cluster\.local {1}.domain.uk "
        r"answer value (.*)\.cluster\.local {1}.domain.uk"
    )
    h, nxt = chain(rules, svc_reply)
    req = seam.request("my.domain.uk.", "SRV")
    msg = seam.reply(req, served(h, req))
    assert nxt.seen[0].name == "my.cluster.local."
    texts = sorted(rr.to_text() for section in msg.sections[1:] for rr in section)
    assert texts == sorted(
        [
            "my.domain.uk. 5 IN CNAME other.my.domain.uk.",
            "my.domain.uk. 5 IN MX 10 mx.my.domain.uk.",
            "my.domain.uk. 5 IN NS ns.my.domain.uk.",
            "my.domain.uk. 5 IN SRV 0 100 100 srv1.my.domain.uk.",
            "my.domain.uk. 5 IN SOA ns.my.domain.uk. host.my.cluster.local. 1 2 3 4 5",
            "srv1.my.domain.uk. 5 IN A 10.0.0.1",
        ]
    ), "SOA RNAME is left alone, as CoreDNS does"
    assert msg.question[0].to_text() == "my.domain.uk. IN SRV"


def test_exact_rule_reverts_owners_and_names_below_case_insensitively() -> None:
    def upper(req: Request) -> wire.Answer:
        return seam.answer(
            "SERVICE.consul.",
            "A",
            ["SERVICE.consul. 5 IN A 10.0.0.1", "x.SERVICE.consul. 5 IN CNAME notservice.consul."],
        )

    h, _ = chain("rewrite name exact coredns.rocks service.consul", upper)
    req = seam.request("CoreDNS.rocks.", "A")
    msg = seam.reply(req, served(h, req))
    texts = [rr.to_text() for rr in msg.answer]
    assert texts == [
        "CoreDNS.rocks. 5 IN A 10.0.0.1",
        "x.CoreDNS.rocks. 5 IN CNAME notservice.consul.",
    ], "names below the client's name point into its question, so they echo its case"


def test_edns0_rules_with_two_stop_rules_apply_only_the_first_match() -> None:
    h, nxt = chain(
        "rewrite edns0 local replace 0xffee abcdef;rewrite edns0 local set 0xffee fedcba",
        seam.answer("a.", "A"),
    )
    served(h, seam.request("a.", "A"))
    options = dns.message.from_wire(nxt.seen[0].data).options
    assert [(int(o.otype), o.to_wire()) for o in options] == [(0xFFEE, b"fedcba")]


def test_edns0_subnet_masks_the_client_address() -> None:
    h, nxt = chain("rewrite edns0 subnet set 24 56", seam.answer("a.", "A"))
    for remote, want in (("10.240.0.1", "10.240.0.0/24"), ("fe80::42:ff:feca:4c65", "fe80::/56")):
        served(h, Request(seam.query("a.", "A"), "udp", (remote, 4000)))
        (option,) = dns.message.from_wire(nxt.seen[-1].data).options
        assert isinstance(option, dns.edns.ECSOption)
        assert f"{option.address}/{option.srclen}" == want


def test_rcode_rule_turns_an_unwritten_error_into_a_written_reply() -> None:
    h, _ = chain("rewrite rcode a.test SERVFAIL NOERROR", wire.Answer.failure(wire.SERVFAIL, "x"))
    req = seam.request("a.test.", "A")
    msg = seam.reply(req, served(h, req))
    assert msg.rcode() == dns.rcode.NOERROR and not msg.answer
    assert msg.question[0].to_text() == "a.test. IN A"


def test_cname_target_is_replaced_and_resolved_again() -> None:
    def chase(req: Request) -> plugin.Result:
        if req.name == "xyz.example.com.":
            return seam.answer(req.name, "A", ["xyz.example.com. 3600 IN A 3.4.5.6"])
        return seam.answer(
            req.name,
            "A",
            ["abc.example.com. 5 IN CNAME def.example.com.", "def.example.com. 5 IN A 1.2.3.4"],
        )

    h, nxt = chain("rewrite continue cname exact def.example.com xyz.example.com", chase)

    class Table:
        def resolve(self, req: Request) -> plugin.Result:
            return nxt.serve(req)

    req = seam.request("abc.example.com.", "A")
    req.table = Table()
    msg = seam.reply(req, served(h, req))
    assert [rr.to_text() for rr in msg.answer] == [
        "abc.example.com. 5 IN CNAME xyz.example.com.",
        "xyz.example.com. 3600 IN A 3.4.5.6",
    ]


def test_cname_lookups_that_chase_one_another_stop() -> None:
    """x.b. CNAME y.a. is rewritten to y.b., whose answer CNAME x.a. becomes x.b. again..."""
    h, nxt = chain("rewrite continue cname suffix .a. .b.", lambda req: loop(req))

    def loop(req: Request) -> plugin.Result:
        other = "y" if req.name.startswith("x") else "x"
        return seam.answer(req.name, "A", [f"{req.name} 5 IN CNAME {other}.a."])

    class Table:
        def resolve(self, req: Request) -> plugin.Result:
            return h.serve(req)

    req = seam.request("x.b.", "A")
    req.table = Table()
    first = dnslib.DNSRecord.parse(wire.finalize(req, served(h, req), 65535)).rr[0]
    assert (str(first.rname), str(first.rdata)) == ("x.b.", "y.b.")
    assert len(nxt.seen) == 1 + cname.MAX_DEPTH, "the first query and one per nested lookup"


def test_rewritten_replies_kept_are_bounded_in_count_and_bytes() -> None:
    h, _ = chain(r"rewrite name regex (.*)\.corp\.test {1}.svc.test answer auto", Fixed(STATIC))
    h.next = Fixed(STATIC)
    for i in range(rewrite_handler.MEMO_SIZE + 100):
        served(h, seam.request(f"a{i}.corp.test.", "A"))
        assert len(h._memo) <= rewrite_handler.MEMO_SIZE
    assert h._memo, "static replies are kept"
    big = seam.answer("a.svc.test.", "TXT", [f'a.svc.test. 5 IN TXT "{"x" * 250}"'] * 200)
    big.lease = replay.PURE
    h.next = Fixed(big)
    for i in range(200):
        served(h, seam.request(f"b{i}.corp.test.", "TXT", proto="tcp"))
        assert h.memo_bytes <= rewrite_handler.MEMO_BYTES
        held = sum(len(a.body or b"") + len(r.body or b"") for a, r in h._memo.values())
        assert held == h.memo_bytes


def test_replies_of_dynamic_answers_are_not_kept() -> None:
    h, _ = chain(
        r"rewrite name regex (.*)\.corp\.test {1}.svc.test answer auto",
        lambda req: seam.answer(req.name, "A", [f"{req.name} 5 IN A 192.0.2.1"]),
    )
    for i in range(10):
        served(h, seam.request(f"a{i}.corp.test.", "A"))
    assert not h._memo and h.memo_bytes == 0


STATIC = seam.answer("a.svc.test.", "A", ["a.svc.test. 5 IN A 192.0.2.1"])
STATIC.lease = replay.PURE

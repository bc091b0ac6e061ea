"""``file``: RFC 1035 zone files served authoritatively, with referrals, wildcards, CNAME chains,
``$INCLUDE``, reload that keeps the old zone on a broken file, and errors with file and line."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import pytest

from kdns.errors import CorefileError
from tests.support import clients, kdnsproc, seam

ZONE = """\
$ORIGIN example.org.
$TTL 3600
@       IN SOA  ns1 hostmaster (
                2024010101 ; serial
                7200 3600 1209600 300 )
        IN NS   ns1
        IN NS   ns2.example.net.
        IN MX   10 mail
ns1     IN A    192.0.2.53
mail    IN A    192.0.2.25
www     IN CNAME web
web  60 IN A    192.0.2.80
        IN AAAA 2001:db8::80
*.apps  IN A    192.0.2.99
chain   IN CNAME www
away    IN CNAME www.example.net.
; a delegation with in-bailiwick glue, and a DS kept by the parent
sub     IN NS   ns.sub
        IN NS   ns.elsewhere.example.org.
        IN DS   12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub  IN A    192.0.2.153
$INCLUDE extra.db
"""
EXTRA = '$ORIGIN extra.example.org.\ntxt IN TXT "from an include"\n'
COREFILE = "example.org:{port} {\n    bind 127.0.0.1\n    file db.example.org {\n        reload 100ms\n    }\n}\n"


@pytest.fixture(scope="module")
def srv() -> Iterator[kdnsproc.Server]:
    files = {"db.example.org": ZONE, "extra.db": EXTRA}
    with clients.serve(COREFILE, files=files) as server:
        yield server


def rrs(section: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f"{r.name} {r.ttl} {r.rdtype.name} {rr}" for r in section for rr in r)


def test_a_name_with_data_is_answered_authoritatively_with_the_apex_ns(
    srv: kdnsproc.Server,
) -> None:
    reply = srv.query("web.example.org.", "A")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert rrs(reply.answer) == ["web.example.org. 60 A 192.0.2.80"]
    assert rrs(reply.authority) == [
        "example.org. 3600 NS ns1.example.org.",
        "example.org. 3600 NS ns2.example.net.",
    ]


def test_mx_answers_carry_the_address_of_an_in_zone_exchange(srv: kdnsproc.Server) -> None:
    reply = srv.query("example.org.", "MX")
    assert rrs(reply.answer) == ["example.org. 3600 MX 10 mail.example.org."]
    assert rrs(reply.additional) == ["mail.example.org. 3600 A 192.0.2.25"]


def test_cname_chains_are_followed_inside_the_zone(srv: kdnsproc.Server) -> None:
    reply = srv.query("chain.example.org.", "A")
    assert rrs(reply.answer) == [
        "chain.example.org. 3600 CNAME www.example.org.",
        "web.example.org. 60 A 192.0.2.80",
        "www.example.org. 3600 CNAME web.example.org.",
    ]
    outside = srv.query("away.example.org.", "A")
    assert rrs(outside.answer) == ["away.example.org. 3600 CNAME www.example.net."]


def test_negative_answers_carry_the_soa(srv: kdnsproc.Server) -> None:
    nx = srv.query("nope.example.org.", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.flags & dns.flags.AA
    assert [r.rdtype.name for r in nx.authority] == ["SOA"]
    nodata = srv.query("web.example.org.", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert [r.rdtype.name for r in nodata.authority] == ["SOA"]


def test_wildcards_answer_names_that_do_not_exist(srv: kdnsproc.Server) -> None:
    reply = srv.query("Foo.Apps.example.org.", "A")
    assert rrs(reply.answer) == ["Foo.Apps.example.org. 3600 A 192.0.2.99"]
    assert srv.query("apps.example.org.", "A").rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize(
    "name", ["sub.example.org.", "host.sub.example.org.", "ns.sub.example.org."]
)
@pytest.mark.parametrize("qtype", ["A", "NS", "SOA"])
def test_names_at_or_below_a_cut_get_a_referral_with_glue(
    srv: kdnsproc.Server, name: str, qtype: str
) -> None:
    reply = srv.query(name, qtype)
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA
    assert not reply.answer
    assert rrs(reply.authority) == [
        "sub.example.org. 3600 NS ns.elsewhere.example.org.",
        "sub.example.org. 3600 NS ns.sub.example.org.",
    ]
    assert rrs(reply.additional) == ["ns.sub.example.org. 3600 A 192.0.2.153"]


def test_ds_at_the_cut_is_answered_by_the_parent(srv: kdnsproc.Server) -> None:
    reply = srv.query("sub.example.org.", "DS")
    assert reply.flags & dns.flags.AA
    assert [r.rdtype.name for r in reply.answer] == ["DS"]


def test_include_brings_in_a_file_beside_the_zone(srv: kdnsproc.Server) -> None:
    reply = srv.query("txt.extra.example.org.", "TXT")
    assert rrs(reply.answer) == ['txt.extra.example.org. 3600 TXT "from an include"']


def test_reload_swaps_the_zone_and_keeps_it_when_the_file_breaks() -> None:
    files = {"db.example.org": ZONE, "extra.db": EXTRA}
    with clients.serve(COREFILE, files=files) as srv:
        assert srv.workdir is not None
        db = srv.workdir / "db.example.org"
        db.write_text(ZONE.replace("192.0.2.80", "192.0.2.81"))
        deadline = time.monotonic() + 5
        while rrs(srv.query("web.example.org.", "A").answer) != [
            "web.example.org. 60 A 192.0.2.81"
        ]:
            assert time.monotonic() < deadline, "the new zone never arrived"
            time.sleep(0.05)
        db.write_text(ZONE.replace("192.0.2.80", "192.0.2.999"))
        line = srv.proc.wait_for_line("[ERROR] plugin/file:", timeout=5)
        assert "db.example.org:" in line and "Traceback" not in srv.proc.output
        assert rrs(srv.query("web.example.org.", "A").answer) == [
            "web.example.org. 60 A 192.0.2.81"
        ]


def test_one_file_serves_each_zone_it_is_named_for() -> None:
    text = "example.org:{port} example.com:{port} {\n    bind 127.0.0.1\n    file db\n}\n"
    zone = "$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
    with clients.serve(text, files={"db": zone}) as srv:
        for origin in ("example.org.", "example.com."):
            assert rrs(srv.query(f"ns.{origin}", "A").answer) == [f"ns.{origin} 60 A 192.0.2.1"]


def test_fallthrough_hands_missing_names_on() -> None:
    text = (
        "example.org:{port} {\n    bind 127.0.0.1\n    file db {\n        fallthrough\n    }\n"
        "    whoami\n}\n"
    )
    zone = "$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"
    with clients.serve(text, files={"db": zone}) as srv:
        assert srv.query("missing.example.org.", "A").additional, "whoami answered"
        assert srv.query("ns.example.org.", "A").answer


@pytest.mark.parametrize(
    ("zone", "where", "reason"),
    [
        ("$TTL 60\n@ SOA ns h 1 2 3 4 5\nbad BOGUS 1\n", ":3", "unknown rdatatype 'BOGUS'"),
        ("$TTL 60\n@ NS ns\n", "", "no SOA record"),
    ],
)
def test_a_broken_zone_stops_startup_naming_file_and_line(
    tmp_path: object, zone: str, where: str, reason: str
) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    (base / "db").write_text(zone)
    with pytest.raises(CorefileError) as err:
        seam.load("example.org {\n    file db\n}\n", filename=str(base / "Corefile"))
    assert f"{base / 'db'}{where}" in str(err.value)
    assert reason in str(err.value)
    assert str(err.value).startswith("plugin/file: ")


@pytest.mark.parametrize(
    "line",
    ["file", "file db {\n        transfer to *\n    }", "file db {\n        reload soon\n    }"],
)
def test_setup_errors(line: str) -> None:
    with pytest.raises(CorefileError, match=r"^plugin/file: Corefile:[23] - Error during parsing"):
        seam.load(f"example.org {{\n    {line}\n}}\n")

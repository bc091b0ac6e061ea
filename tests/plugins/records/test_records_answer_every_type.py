"""Positive, NODATA and NXDOMAIN answers from a records file, checked as a client sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import yamlzones

EXAMPLE = """\
zone: example.test
ttl: 300
records:
  "@":
    NS: [ns1, ns2.example.test.]
    MX: ["10 mail", "20 mx.elsewhere.org."]
    TXT: ["v=spf1 -all"]
    CAA: ['0 issue "letsencrypt.org"', "128 iodef mailto:sec@example.test"]
  ns1: {A: 10.0.0.53, AAAA: "fd00::53"}
  ns2: {A: 10.0.0.54}
  web:
    A: [10.0.0.1, 10.0.0.2]
    AAAA: fd00::1
    ttl: 60
  www: {CNAME: web}
  _http._tcp.web: {SRV: ["10 50 80 web", "20 0 8080 backup.elsewhere.org."]}
  mail.example.test.: {A: 10.0.0.25}
  long: {TXT: ["LONG"]}
  multi: {TXT: [["first", "second"], "third"]}
  empty: {TXT: ""}
  deep.a.b.c: {A: 10.9.9.9}
---
zone: 0.0.10.in-addr.arpa
ttl: 3600
records:
  "@": {SOA: "ns1.example.test. admin.example.test. 42 3600 600 604800 60"}
  "1": {PTR: web.example.test.}
""".replace("LONG", "x" * 300)

SOA = "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 1700000000 7200 1800 86400 300"
REVERSE_SOA = (
    "0.0.10.in-addr.arpa. 3600 IN SOA ns1.example.test. admin.example.test. 42 3600 600 604800 60"
)
# RFC 2308 §3: the SOA in a negative answer carries min(SOA TTL, MINIMUM).
REVERSE_NEGATIVE_SOA = REVERSE_SOA.replace(" 3600 IN", " 60 IN")


@pytest.fixture
def records(tmp_path: Path) -> yamlzones.handler.Records:
    h, _ = yamlzones.make(tmp_path, EXAMPLE)
    return h


CASES = [
    # name, type, rcode, answer, authority, additional
    (
        "web.example.test.",
        "A",
        "NOERROR",
        ["web.example.test. 60 IN A 10.0.0.1", "web.example.test. 60 IN A 10.0.0.2"],
        [],
        [],
    ),
    ("web.example.test.", "AAAA", "NOERROR", ["web.example.test. 60 IN AAAA fd00::1"], [], []),
    (
        "www.example.test.",
        "CNAME",
        "NOERROR",
        ["www.example.test. 300 IN CNAME web.example.test."],
        [],
        [],
    ),
    (
        "example.test.",
        "NS",
        "NOERROR",
        ["example.test. 300 IN NS ns1.example.test.", "example.test. 300 IN NS ns2.example.test."],
        [],
        [
            "ns1.example.test. 300 IN A 10.0.0.53",
            "ns1.example.test. 300 IN AAAA fd00::53",
            "ns2.example.test. 300 IN A 10.0.0.54",
        ],
    ),
    (
        "example.test.",
        "MX",
        "NOERROR",
        [
            "example.test. 300 IN MX 10 mail.example.test.",
            "example.test. 300 IN MX 20 mx.elsewhere.org.",
        ],
        [],
        ["mail.example.test. 300 IN A 10.0.0.25"],
    ),
    ("example.test.", "TXT", "NOERROR", ['example.test. 300 IN TXT "v=spf1 -all"'], [], []),
    (
        "example.test.",
        "CAA",
        "NOERROR",
        [
            'example.test. 300 IN CAA 0 issue "letsencrypt.org"',
            'example.test. 300 IN CAA 128 iodef "mailto:sec@example.test"',
        ],
        [],
        [],
    ),
    ("example.test.", "SOA", "NOERROR", [SOA], [], []),
    (
        "_http._tcp.web.example.test.",
        "SRV",
        "NOERROR",
        [
            "_http._tcp.web.example.test. 300 IN SRV 10 50 80 web.example.test.",
            "_http._tcp.web.example.test. 300 IN SRV 20 0 8080 backup.elsewhere.org.",
        ],
        [],
        [
            "web.example.test. 60 IN A 10.0.0.1",
            "web.example.test. 60 IN A 10.0.0.2",
            "web.example.test. 60 IN AAAA fd00::1",
        ],
    ),
    (
        "1.0.0.10.in-addr.arpa.",
        "PTR",
        "NOERROR",
        ["1.0.0.10.in-addr.arpa. 3600 IN PTR web.example.test."],
        [],
        [],
    ),
    ("0.0.10.in-addr.arpa.", "SOA", "NOERROR", [REVERSE_SOA], [], []),
    # TXT: one string of 300 bytes is one record of two character-strings (255 + 45).
    (
        "long.example.test.",
        "TXT",
        "NOERROR",
        [f'long.example.test. 300 IN TXT "{"x" * 255}" "{"x" * 45}"'],
        [],
        [],
    ),
    # A list inside the list is one record of several strings; a plain item is one record.
    (
        "multi.example.test.",
        "TXT",
        "NOERROR",
        [
            'multi.example.test. 300 IN TXT "first" "second"',
            'multi.example.test. 300 IN TXT "third"',
        ],
        [],
        [],
    ),
    ("empty.example.test.", "TXT", "NOERROR", ['empty.example.test. 300 IN TXT ""'], [], []),
    # NODATA: the name exists, the type does not.
    ("ns2.example.test.", "AAAA", "NOERROR", [], [SOA], []),
    ("web.example.test.", "MX", "NOERROR", [], [SOA], []),
    ("web.example.test.", "TYPE65", "NOERROR", [], [SOA], []),
    ("1.0.0.10.in-addr.arpa.", "A", "NOERROR", [], [REVERSE_NEGATIVE_SOA], []),
    # Empty non-terminals exist: NODATA, not NXDOMAIN (RFC 8020).
    ("_tcp.web.example.test.", "A", "NOERROR", [], [SOA], []),
    ("_tcp.web.example.test.", "SRV", "NOERROR", [], [SOA], []),
    ("a.b.c.example.test.", "A", "NOERROR", [], [SOA], []),
    ("c.example.test.", "TXT", "NOERROR", [], [SOA], []),
    # NXDOMAIN: the name does not exist.
    ("nope.example.test.", "A", "NXDOMAIN", [], [SOA], []),
    ("x.web.example.test.", "A", "NXDOMAIN", [], [SOA], []),
    ("x.deep.a.b.c.example.test.", "AAAA", "NXDOMAIN", [], [SOA], []),
    ("9.0.0.10.in-addr.arpa.", "PTR", "NXDOMAIN", [], [REVERSE_NEGATIVE_SOA], []),
]


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "answer", "authority", "additional"),
    CASES,
    ids=[f"{c[0]}{c[1]}" for c in CASES],
)
def test_answers(
    records: yamlzones.handler.Records,
    name: str,
    qtype: str,
    rcode: str,
    answer: list[str],
    authority: list[str],
    additional: list[str],
) -> None:
    reply = yamlzones.ask(records, name, qtype)
    assert reply.rcode == rcode
    assert reply.aa
    assert reply.answer == answer
    assert reply.authority == authority
    assert reply.additional == additional


def test_repeated_queries_get_the_same_answer(records: yamlzones.handler.Records) -> None:
    # The second query of each is served from the pre-rendered table or the memo.
    for name, qtype, rcode, answer, authority, additional in CASES:
        first = yamlzones.ask(records, name, qtype)
        again = yamlzones.ask(records, name, qtype)
        assert first == again
        assert (again.rcode, again.answer, again.authority, again.additional) == (
            rcode,
            answer,
            authority,
            additional,
        )


def test_names_match_in_any_case_and_echo_the_query(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "WeB.ExAmPlE.tEsT.", "A")
    assert reply.answer == [
        "WeB.ExAmPlE.tEsT. 60 IN A 10.0.0.1",
        "WeB.ExAmPlE.tEsT. 60 IN A 10.0.0.2",
    ]
    # Names in the reply that end in the zone compress into the question, so the zone part
    # of the SOA follows the query's case too (as in CoreDNS; DNS names are case-insensitive).
    reply = yamlzones.ask(records, "NoPe.EXAMPLE.test.", "A")
    assert reply.rcode == "NXDOMAIN"
    assert reply.authority == [SOA.replace("example.test.", "EXAMPLE.test.")]


def test_any_gets_every_rrset_at_the_name(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "web.example.test.", "ANY")
    assert reply.answer == [
        "web.example.test. 60 IN A 10.0.0.1",
        "web.example.test. 60 IN A 10.0.0.2",
        "web.example.test. 60 IN AAAA fd00::1",
    ]
    apex = yamlzones.ask(records, "example.test.", "ANY")
    assert [line.split()[3] for line in apex.answer] == [
        "SOA",
        "NS",
        "NS",
        "MX",
        "MX",
        "TXT",
        "CAA",
        "CAA",
    ]


def test_any_at_an_empty_non_terminal_is_nodata(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "_tcp.web.example.test.", "ANY")
    assert (reply.rcode, reply.answer, reply.authority) == ("NOERROR", [], [SOA])


@pytest.mark.parametrize("qtype", ["AXFR", "IXFR"])
def test_zone_transfers_are_refused(records: yamlzones.handler.Records, qtype: str) -> None:
    answer = yamlzones.raw(records, "example.test.", qtype)
    assert answer.body is None
    assert answer.rcode == yamlzones.wire.REFUSED


def test_nodata_is_one_rendering_per_name(records: yamlzones.handler.Records) -> None:
    # NODATA does not depend on the type asked, so every type shares one rendered answer.
    mx = yamlzones.raw(records, "web.example.test.", "MX")
    txt = yamlzones.raw(records, "web.example.test.", "TXT")
    assert mx is txt

"""NXDOMAIN, NODATA and wildcard expansions are served from templates, one per name length.

Each template must give, once the server splices the client's question in front, exactly the
reply that rendering the resolved records for that very name gives (``render_result`` of
``lookup.resolve``, the rendering every such answer had before the templates), and a flood of
random names must neither grow the tables without bound nor miss a template.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

import dns.message
import pytest

from kdns import wire
from kdns.authority import answers, lookup
from tests.support import yamlzones

ZONES = """\
zone: example.test
records:
  web: {A: 10.0.0.1, AAAA: "fd00::1", MX: "10 mail"}
  mail: {A: 10.0.0.25}
  _http._tcp.web: {SRV: "0 0 80 web"}
  "*.apps": {A: 10.0.0.9, MX: "10 mail", TXT: "wild"}
  real.apps: {A: 10.0.0.10}
  "*.alias": {CNAME: web}
  "*.out": {CNAME: host.other.test.}
  "*.gone": {CNAME: nope.other.test.}
  "*.loop": {CNAME: ab.loop}
  a.*.ent: {A: 10.0.0.3}
  ns.dns: {A: 10.0.0.53}
---
zone: other.test
records:
  "@": {SOA: "ns1.other.test. admin.other.test. 7 3600 600 86400 60", NS: ns1}
  ns1: {A: 10.7.7.1}
  host: {AAAA: "fd00::7", A: 10.7.7.7}
  "*": {TXT: "other wild"}
---
zone: 0.0.10.in-addr.arpa
records:
  "1": {PTR: web.example.test.}
"""

NAMES = [
    # NXDOMAIN, several lengths and zones, mixed case, names that look like the SOA's names.
    ("nope.example.test.", "A"),
    ("NoPe.ExAmPlE.TeSt.", "AAAA"),
    ("a.b.c.d.e.f.example.test.", "MX"),
    ("x.web.example.test.", "A"),
    ("x.ns.dns.example.test.", "A"),
    ("hostmaster.example.test.", "TXT"),
    ("9.0.0.10.in-addr.arpa.", "PTR"),
    ("250.0.0.10.IN-ADDR.arpa.", "PTR"),
    ("we\\009ird.example.test.", "A"),
    # NODATA: at names, at the apex, at empty non-terminals, at wildcard matches.
    ("web.example.test.", "TXT"),
    ("WEB.example.test.", "TYPE65000"),
    ("example.test.", "A"),
    ("Example.Test.", "TXT"),
    ("_tcp.web.example.test.", "SRV"),
    ("_TCP.web.example.test.", "ANY"),
    ("dns.example.test.", "A"),
    ("apps.example.test.", "A"),
    ("x.apps.example.test.", "AAAA"),
    ("*.ent.example.test.", "A"),
    ("q.ent.example.test.", "A"),
    ("other.test.", "AAAA"),
    ("0.0.10.in-addr.arpa.", "A"),
    # Wildcard expansions: direct, with additional records, ANY, CNAME chains in and out of
    # the zones, ending NXDOMAIN elsewhere, and a chain through the query name itself.
    ("x.apps.example.test.", "A"),
    ("Xy.ApPs.example.test.", "A"),
    ("a.b.apps.example.test.", "A"),
    ("a\\.b.apps.example.test.", "A"),
    ("mail.apps.example.test.", "MX"),
    ("x.apps.example.test.", "ANY"),
    ("x.apps.example.test.", "TXT"),
    ("w.alias.example.test.", "A"),
    ("w.alias.example.test.", "AAAA"),
    ("w.alias.example.test.", "MX"),
    ("w.alias.example.test.", "CNAME"),
    ("w.alias.example.test.", "ANY"),
    ("w.out.example.test.", "AAAA"),
    ("w.gone.example.test.", "A"),
    ("ab.loop.example.test.", "A"),
    ("cd.loop.example.test.", "A"),
    ("AB.loop.example.test.", "A"),
    ("anything.other.test.", "TXT"),
    ("ns1.x.other.test.", "A"),
]


@pytest.fixture
def records(tmp_path: Path) -> yamlzones.handler.Records:
    h, _ = yamlzones.make(tmp_path, ZONES)
    return h


def reference(table: answers.Table, req: yamlzones.Request) -> wire.Answer:
    """The reply rendered for this very name (lower-cased), as every miss was rendered before."""
    qname = req.key[:-4]
    zone = table.index.zone_of(qname)
    assert zone is not None
    return answers.render_result(
        qname, req.qtype, lookup.resolve(table.index, zone, qname, req.qtype)
    )


@pytest.mark.parametrize(("name", "qtype"), NAMES)
def test_a_template_answers_as_the_full_rendering(
    records: yamlzones.handler.Records, name: str, qtype: str
) -> None:
    req = yamlzones.request(name, qtype)
    got = records.serve(req)
    assert isinstance(got, wire.Answer)
    want = reference(records.table, req)
    assert (got.rcode, got.ancount, got.nscount, got.arcount, got.flags) == (
        want.rcode,
        want.ancount,
        want.nscount,
        want.arcount,
        want.flags,
    )
    assert len(got.ends) == len(want.ends)
    mine = wire.finalize(req, got, wire.MAX_MESSAGE)
    theirs = wire.finalize(req, want, wire.MAX_MESSAGE)
    assert dns.message.from_wire(mine) == dns.message.from_wire(theirs)
    # Same records, same client spelling of the question in owner names.
    assert dns.message.from_wire(mine).to_text() == dns.message.from_wire(theirs).to_text()


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        ("nope.example.test.", "A"),
        ("NoPe.ExAmPlE.TeSt.", "AAAA"),
        ("9.0.0.10.in-addr.arpa.", "PTR"),
        ("web.example.test.", "TXT"),
        ("_tcp.web.example.test.", "SRV"),
        ("x.apps.example.test.", "A"),
        ("Xy.ApPs.example.test.", "MX"),
        ("w.alias.example.test.", "A"),
        ("w.out.example.test.", "AAAA"),
    ],
)
def test_usual_names_get_the_very_same_bytes(
    records: yamlzones.handler.Records, name: str, qtype: str
) -> None:
    # Unless a name in the records ends in part of the query name besides the zone (the
    # compression then points elsewhere, to the same effect), the bytes are identical too.
    req = yamlzones.request(name, qtype)
    got = records.serve(req)
    assert isinstance(got, wire.Answer)
    want = reference(records.table, req)
    assert (got.body, got.ends) == (want.body, want.ends)


def test_every_name_of_one_length_shares_one_template(records: yamlzones.handler.Records) -> None:
    nx = [yamlzones.raw(records, f"{c}{c}.example.test.", "A") for c in "abcdef"]
    assert all(a is nx[0] for a in nx)
    assert nx[0].rcode == wire.NXDOMAIN
    wild = [yamlzones.raw(records, f"{c}.apps.example.test.", "A") for c in "abcdef"]
    assert all(a is wild[0] for a in wild)
    nodata = [yamlzones.raw(records, f"{c}.apps.example.test.", "AAAA") for c in "abcdef"]
    assert all(a is nodata[0] for a in nodata)
    assert nodata[0].rcode == wire.NOERROR and nodata[0].nscount == 1
    # The same length with other labels: still the same template.
    assert yamlzones.raw(records, "ab.cd.example.test.", "A") is yamlzones.raw(
        records, "abcde.example.test.", "A"
    )
    assert len(records.table.nxdomain) == 2


def test_a_chain_through_the_query_name_is_not_a_template(
    records: yamlzones.handler.Records,
) -> None:
    # ab.loop CNAME ab.loop stops at once; cd.loop (same length) goes one step further.
    assert yamlzones.ask(records, "ab.loop.example.test.", "A").answer == [
        "ab.loop.example.test. 300 IN CNAME ab.loop.example.test."
    ]
    assert yamlzones.ask(records, "cd.loop.example.test.", "A").answer == [
        "cd.loop.example.test. 300 IN CNAME ab.loop.example.test.",
        "ab.loop.example.test. 300 IN CNAME ab.loop.example.test.",
    ]
    reply = yamlzones.ask(records, "AB.LOOP.example.test.", "A")
    assert [line.lower() for line in reply.answer] == [
        "ab.loop.example.test. 300 in cname ab.loop.example.test."
    ]


def test_a_flood_of_random_names_keeps_every_table_bounded(tmp_path: Path) -> None:
    h, _ = yamlzones.make(tmp_path, ZONES, memo_size=500)
    table = h.table
    hits = len(table.hits)
    rng = random.Random(2308)
    letters = string.ascii_lowercase + string.digits
    suffixes = ["example.test.", "apps.example.test.", "alias.example.test.", "other.test."]
    for i in range(50_000):
        label = "".join(rng.choices(letters, k=rng.randint(1, 40)))
        qtype = rng.choice([1, 28, 15, 16, 255, rng.randrange(1, 65535)])
        answer = h.serve(yamlzones.request(f"{label}.{suffixes[i % 4]}", qtype))
        assert isinstance(answer, wire.Answer)
        if qtype not in (252, 251):
            assert answer.body is not None
    assert len(table.memo) == 500
    assert len(table.hits) == hits
    # At most one template per zone and name length, and wildcard templates under their bound.
    assert len(table.nxdomain) <= 3 * 255
    assert len(table.nodata) <= 3 * 255
    assert len(table.wildcards) <= answers.TEMPLATE_SIZE


def test_wildcard_templates_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answers, "TEMPLATE_SIZE", 50)
    h, _ = yamlzones.make(tmp_path, ZONES, memo_size=10)
    for qtype in range(1000, 1300):  # a CNAME wildcard answers every type: one each
        reply = yamlzones.ask(h, "x.alias.example.test.", qtype)
        assert reply.answer == ["x.alias.example.test. 300 IN CNAME web.example.test."]
    assert len(h.table.wildcards) == 50

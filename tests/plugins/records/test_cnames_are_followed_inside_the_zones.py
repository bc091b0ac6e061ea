"""CNAME chains: followed through the plugin's zones, stopped at the edge, at loops and at 10."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.pkg import fall
from tests.support import yamlzones

ZONES = """\
zone: example.test
records:
  web: {A: [10.0.0.1, 10.0.0.2]}
  ns2: {A: 10.0.0.54}
  www: {CNAME: web}
  a: {CNAME: b}
  b: {CNAME: www}
  ext: {CNAME: target.elsewhere.org.}
  dangling: {CNAME: missing}
  noaaaa: {CNAME: ns2}
  loop1: {CNAME: loop2}
  loop2: {CNAME: loop1}
  self: {CNAME: self}
  other: {CNAME: host.other.test.}
  otherbad: {CNAME: nope.other.test.}
  "*.alias": {CNAME: web}
  towild: {CNAME: x.apps}
  "*.apps": {A: 10.0.0.9}
  %s
---
zone: other.test
records:
  host: {AAAA: "fd00::7", A: 10.7.7.7}
"""
# c0 -> c1 -> ... -> c11 -> web: twelve CNAMEs, two more than any answer follows.
CHAIN = "\n  ".join(f"c{i}: {{CNAME: c{i + 1}}}" for i in range(11)) + "\n  c11: {CNAME: web}"
SOA = "example.test. 300 IN SOA ns.dns.example.test. hostmaster.example.test. 1700000000 7200 1800 86400 300"
OTHER_SOA = "other.test. 300 IN SOA ns.dns.other.test. hostmaster.other.test. 1700000000 7200 1800 86400 300"
WEB = ["web.example.test. 300 IN A 10.0.0.1", "web.example.test. 300 IN A 10.0.0.2"]


@pytest.fixture
def records(tmp_path: Path) -> yamlzones.handler.Records:
    h, _ = yamlzones.make(tmp_path, ZONES % CHAIN)
    return h


def test_a_chain_inside_the_zone_ends_with_the_records(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "a.example.test.", "A")
    assert reply.rcode == "NOERROR"
    assert reply.answer == [
        "a.example.test. 300 IN CNAME b.example.test.",
        "b.example.test. 300 IN CNAME www.example.test.",
        "www.example.test. 300 IN CNAME web.example.test.",
        *WEB,
    ]


def test_the_cname_type_itself_gets_only_the_cname(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "a.example.test.", "CNAME")
    assert reply.answer == ["a.example.test. 300 IN CNAME b.example.test."]


def test_any_at_a_cname_gets_only_the_cname(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "www.example.test.", "ANY")
    assert reply.answer == ["www.example.test. 300 IN CNAME web.example.test."]


def test_a_target_outside_the_zones_ends_the_answer(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "ext.example.test.", "A")
    assert (reply.rcode, reply.authority) == ("NOERROR", [])
    assert reply.answer == ["ext.example.test. 300 IN CNAME target.elsewhere.org."]


def test_a_target_that_does_not_exist_is_nxdomain(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "dangling.example.test.", "A")
    assert reply.rcode == "NXDOMAIN"
    assert reply.answer == ["dangling.example.test. 300 IN CNAME missing.example.test."]
    assert reply.authority == [SOA]


def test_a_target_without_the_type_is_nodata(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "noaaaa.example.test.", "AAAA")
    assert reply.rcode == "NOERROR"
    assert reply.answer == ["noaaaa.example.test. 300 IN CNAME ns2.example.test."]
    assert reply.authority == [SOA]


def test_a_loop_stops_when_it_comes_back(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "loop1.example.test.", "A")
    assert reply.rcode == "NOERROR"
    assert reply.answer == [
        "loop1.example.test. 300 IN CNAME loop2.example.test.",
        "loop2.example.test. 300 IN CNAME loop1.example.test.",
    ]
    reply = yamlzones.ask(records, "self.example.test.", "AAAA")
    assert reply.answer == ["self.example.test. 300 IN CNAME self.example.test."]


def test_a_chain_stops_after_ten_cnames(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "c0.example.test.", "A")
    assert reply.rcode == "NOERROR"
    assert reply.answer == [
        f"c{i}.example.test. 300 IN CNAME c{i + 1}.example.test." for i in range(10)
    ]


def test_chains_cross_into_the_plugins_other_zones(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "other.example.test.", "AAAA")
    assert reply.answer == [
        "other.example.test. 300 IN CNAME host.other.test.",
        "host.other.test. 300 IN AAAA fd00::7",
    ]
    # The negative answer at the end of the chain carries the SOA of the zone it ended in.
    reply = yamlzones.ask(records, "otherbad.example.test.", "A")
    assert reply.rcode == "NXDOMAIN"
    assert reply.authority == [OTHER_SOA]


def test_a_wildcard_cname_is_owned_by_the_query_name(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "x.alias.example.test.", "A")
    assert reply.answer == ["x.alias.example.test. 300 IN CNAME web.example.test.", *WEB]


def test_a_cname_to_a_wildcard_name_is_synthesised(records: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(records, "towild.example.test.", "A")
    assert reply.answer == [
        "towild.example.test. 300 IN CNAME x.apps.example.test.",
        "x.apps.example.test. 300 IN A 10.0.0.9",
    ]


def test_fallthrough_ignores_an_nxdomain_at_the_end_of_a_chain(tmp_path: Path) -> None:
    # The query name exists (it is the CNAME), so the answer is ours to give.
    h, following = yamlzones.make(tmp_path, ZONES % CHAIN, fallthrough=fall.ROOT)
    reply = yamlzones.ask(h, "dangling.example.test.", "A")
    assert reply.rcode == "NXDOMAIN"
    assert following.seen == []

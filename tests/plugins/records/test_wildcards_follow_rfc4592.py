"""Wildcards per RFC 4592, on the example zone of its §2.2.1 and the brief's ``*.apps``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import yamlzones

# RFC 4592 §2.2.1, minus the delegation (records does not delegate: see below).
RFC4592 = """\
zone: example
ttl: 3600
records:
  "@": {NS: [ns.example.com., ns.example.net.]}
  "*": {TXT: "this is a wildcard", MX: "10 host1"}
  sub.*: {TXT: "this is not a wildcard"}
  host1: {A: 192.0.2.1}
  _ssh._tcp.host1: {SRV: "0 0 22 host1"}
  _ssh._tcp.host2: {SRV: "0 0 22 host2"}
"""
SOA = "example. 3600 IN SOA ns.example.com. hostmaster.example. 1700000000 7200 1800 86400 3600"


@pytest.fixture
def rfc(tmp_path: Path) -> yamlzones.handler.Records:
    h, _ = yamlzones.make(tmp_path, RFC4592)
    return h


def test_rfc4592_examples_that_match_the_wildcard(rfc: yamlzones.handler.Records) -> None:
    # §2.2.1: "host3.example. MX" is answered from "*.example.", owned by the query name.
    reply = yamlzones.ask(rfc, "host3.example.", "MX")
    assert reply.rcode == "NOERROR"
    assert reply.answer == ["host3.example. 3600 IN MX 10 host1.example."]
    assert reply.additional == ["host1.example. 3600 IN A 192.0.2.1"]
    # "foo.bar.example. TXT": bar does not exist, so the closest encloser is the apex.
    reply = yamlzones.ask(rfc, "foo.bar.example.", "TXT")
    assert reply.answer == ['foo.bar.example. 3600 IN TXT "this is a wildcard"']


def test_rfc4592_wildcard_without_the_type_is_nodata(rfc: yamlzones.handler.Records) -> None:
    # "host3.example. A": the wildcard matches and has no A.
    reply = yamlzones.ask(rfc, "host3.example.", "A")
    assert (reply.rcode, reply.answer, reply.authority) == ("NOERROR", [], [SOA])


@pytest.mark.parametrize(
    ("name", "qtype", "rcode"),
    [
        # An existing name is never matched by a wildcard.
        ("host1.example.", "MX", "NOERROR"),
        ("sub.*.example.", "MX", "NOERROR"),
        # _tcp.host1 exists (an empty non-terminal) and has no "*._tcp.host1".
        ("_telnet._tcp.host1.example.", "SRV", "NXDOMAIN"),
        # The closest encloser is "*.example." itself, and "*.*.example." does not exist.
        ("ghost.*.example.", "MX", "NXDOMAIN"),
    ],
)
def test_rfc4592_names_the_wildcard_does_not_match(
    rfc: yamlzones.handler.Records, name: str, qtype: str, rcode: str
) -> None:
    reply = yamlzones.ask(rfc, name, qtype)
    assert (reply.rcode, reply.answer, reply.authority) == (rcode, [], [SOA])


def test_the_wildcard_owner_itself_answers_as_a_name(rfc: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(rfc, "*.example.", "TXT")
    assert reply.answer == ['*.example. 3600 IN TXT "this is a wildcard"']


APPS = """\
zone: example.test
records:
  "*.apps": {A: 10.0.0.9}
  real.apps: {A: 10.0.0.10}
  web: {A: 10.0.0.1}
"""
NEG = "example.test. 300 IN SOA ns.dns.example.test. hostmaster.example.test. 1700000000 7200 1800 86400 300"


@pytest.fixture
def apps(tmp_path: Path) -> yamlzones.handler.Records:
    h, _ = yamlzones.make(tmp_path, APPS)
    return h


@pytest.mark.parametrize("name", ["x.apps.example.test.", "a.b.apps.example.test."])
def test_wildcard_matches_one_or_more_labels(apps: yamlzones.handler.Records, name: str) -> None:
    reply = yamlzones.ask(apps, name, "A")
    assert reply.answer == [f"{name} 300 IN A 10.0.0.9"]


def test_wildcard_answers_echo_the_query_case(apps: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(apps, "MyApp.Apps.Example.Test.", "A")
    assert reply.answer == ["MyApp.Apps.Example.Test. 300 IN A 10.0.0.9"]


def test_the_wildcards_parent_is_an_existing_empty_name(apps: yamlzones.handler.Records) -> None:
    reply = yamlzones.ask(apps, "apps.example.test.", "A")
    assert (reply.rcode, reply.answer, reply.authority) == ("NOERROR", [], [NEG])


def test_names_below_an_existing_name_are_not_matched(apps: yamlzones.handler.Records) -> None:
    assert yamlzones.ask(apps, "x.real.apps.example.test.", "A").rcode == "NXDOMAIN"
    assert yamlzones.ask(apps, "x.web.example.test.", "A").rcode == "NXDOMAIN"
    assert yamlzones.ask(apps, "real.apps.example.test.", "A").answer == [
        "real.apps.example.test. 300 IN A 10.0.0.10"
    ]


def test_wildcard_nodata_and_expansions_are_memoized(apps: yamlzones.handler.Records) -> None:
    assert yamlzones.ask(apps, "x.apps.example.test.", "AAAA").authority == [NEG]
    first = yamlzones.raw(apps, "y.apps.example.test.", "A")
    assert yamlzones.raw(apps, "Y.APPS.example.test.", "A") is first

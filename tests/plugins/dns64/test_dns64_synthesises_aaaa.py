"""``dns64``: AAAA from A for IPv6 clients (RFC 6147), checked against CoreDNS's own cases."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dnslib
import pytest

from kdns.errors import CorefileError
from kdns.plugins.dns64 import mapping
from tests.support import clients, kdnsproc, seam
from tests.support.upstream import FakeUpstream


@pytest.mark.parametrize(
    ("prefix", "address"),
    [
        ("64:ff9b::/96", "64:ff9b::4040:4040"),
        ("64:ff9b::/64", "64:ff9b::40:4040:4000:0"),
        ("64:ff9b::/56", "64:ff9b:0:40:40:4040::"),
        ("64::/32", "64:0:4040:4040::"),
    ],
)
def test_addresses_follow_rfc6052(prefix: str, address: str) -> None:
    embedded = mapping.embed(mapping.parse_prefix(prefix), bytes((64, 64, 64, 64)))
    assert ipaddress.IPv6Address(embedded) == ipaddress.IPv6Address(address)


def names(section: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f"{r.name} {r.ttl} {r.rdtype.name} {rr}" for r in section for rr in r)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.answers = {
            ("v4only.example.org.", "A"): ["192.0.2.42"],
            ("v4only.example.org.", "AAAA"): [],
            ("both.example.org.", "AAAA"): ["2001:db8::7"],
        }
        up.rcodes = {"gone.example.org.": dns.rcode.NXDOMAIN}
        yield up


@pytest.fixture(scope="module")
def srv(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    text = f".:{{port}} {{\n    bind ::1\n    dns64\n    forward . 127.0.0.1:{upstream.port}\n}}\n"
    with clients.serve(text, host="::1") as server:
        yield server


def test_an_ipv6_client_gets_aaaa_made_from_a(srv: kdnsproc.Server) -> None:
    reply = srv.query("v4only.example.org.", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR
    assert names(reply.answer) == ["v4only.example.org. 60 AAAA 64:ff9b::c000:22a"]


def test_real_aaaa_and_nxdomain_pass_unchanged(srv: kdnsproc.Server) -> None:
    assert names(srv.query("both.example.org.", "AAAA").answer) == [
        "both.example.org. 60 AAAA 2001:db8::7"
    ]
    assert srv.query("gone.example.org.", "AAAA").rcode() == dns.rcode.NXDOMAIN


def test_other_types_are_not_touched(srv: kdnsproc.Server) -> None:
    assert names(srv.query("v4only.example.org.", "A").answer) == [
        "v4only.example.org. 60 A 192.0.2.42"
    ]


def test_ipv4_clients_are_left_alone_without_allow_ipv4(upstream: FakeUpstream) -> None:
    text = f".:{{port}} {{\n    bind 127.0.0.1\n    dns64\n    forward . 127.0.0.1:{upstream.port}\n}}\n"
    with clients.serve(text) as srv:
        assert srv.query("v4only.example.org.", "AAAA").answer == []
    allow = text.replace("    dns64\n", "    dns64 {\n        allow_ipv4\n    }\n")
    with clients.serve(allow) as srv:
        assert names(srv.query("v4only.example.org.", "AAAA").answer) == [
            "v4only.example.org. 60 AAAA 64:ff9b::c000:22a"
        ]


def test_ttl_is_bounded_by_the_soa_of_the_aaaa_reply() -> None:
    soa = dns.rrset.from_text(
        "example.org.", 70, "IN", "SOA", "ns.example.org. host.example.org. 1 7200 1800 86400 300"
    )

    def handler(query: dns.message.Message, seen: object) -> dns.message.Message:
        reply = dns.message.make_response(query, recursion_available=True)
        q = query.question[0]
        if q.rdtype == dns.rdatatype.AAAA:
            reply.authority.append(soa)
        else:
            reply.answer.append(dns.rrset.from_text(q.name, 5000, "IN", "A", "192.0.2.43"))
            reply.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", "192.0.2.42"))
        return reply

    with FakeUpstream() as up:
        up.handler = handler
        text = f".:{{port}} {{\n    bind ::1\n    dns64\n    forward . 127.0.0.1:{up.port}\n}}\n"
        with (
            clients.serve(text, host="::1") as srv,
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock,
        ):
            sock.settimeout(3)
            sock.sendto(
                dns.message.make_query("x.example.org.", "AAAA").to_wire(), ("::1", srv.port)
            )
            raw = sock.recv(4096)
    # dnslib keeps each record's own TTL (dnspython would merge the two into one rrset).
    reply = dnslib.DNSRecord.parse(raw)
    assert reply.header.rcode == dns.rcode.NOERROR
    ttls = {str(rr.rdata): rr.ttl for rr in reply.rr}
    assert ttls == {"64:ff9b::c000:22a": 60, "64:ff9b::c000:22b": 70}


@pytest.mark.parametrize(
    "line",
    [
        "dns64 192.0.2.0/24",
        "dns64 64:ff9b::/100",
        "dns64 64:ff9b::/33",
        "dns64 {\n        prefix\n    }",
        "dns64 {\n        nonsense\n    }",
    ],
)
def test_bad_prefixes_and_options_stop_startup(line: str) -> None:
    with pytest.raises(CorefileError, match=r"^plugin/dns64: Corefile:\d+ - Error during parsing"):
        seam.load(f". {{\n    {line}\n}}\n")

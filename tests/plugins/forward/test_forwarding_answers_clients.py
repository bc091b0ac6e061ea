"""End to end: a kdns with ``forward`` in front of a fake upstream answers dig and dnspython.

The Corefile forwards only ``example.net`` and has ``whoami`` after forward, so a name that is
not forwarded (outside FROM, or under ``except``) visibly reaches the next plugin: whoami answers
with an A record of the client's address in the additional section.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import pytest

from tests.support import children, kdnsproc
from tests.support.upstream import FakeUpstream


def is_whoami(reply: dns.message.Message) -> bool:
    """Whether whoami, the plugin after forward, wrote ``reply``."""
    return any(rr.to_text().endswith("IN A 127.0.0.1") for rr in reply.additional)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def server(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    corefile = f"""\
.:{{port}} {{
    forward example.net 127.0.0.1:{upstream.port} {{
        except private.example.net
        next SERVFAIL
    }}
    whoami
}}
"""
    with children.serve(corefile) as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh(upstream: FakeUpstream) -> None:
    upstream.reset()
    upstream.rcodes.clear()


@pytest.mark.parametrize(
    ("rdtype", "expected"),
    [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::1"),
        ("MX", "10 mail.example.net."),
        ("TXT", '"hello from upstream"'),
    ],
)
def test_dig_gets_the_upstream_answer(
    server: kdnsproc.Server, upstream: FakeUpstream, rdtype: str, expected: str
) -> None:
    out = children.dig(server.port, "www.example.net", rdtype, "+noall", "+answer", "+comments")
    assert "status: NOERROR" in out
    assert f"www.example.net.\t60\tIN\t{rdtype}\t{expected}" in out
    assert " ra" in out.split("flags:")[1].split(";")[0], "RA comes from the upstream"
    assert upstream.names() == ["www.example.net."]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_dnspython_gets_the_upstream_answer_over_both_transports(
    server: kdnsproc.Server, upstream: FakeUpstream, tcp: bool
) -> None:
    reply = children.query(server.port, "api.example.net", "A", tcp=tcp)
    assert children.rcode(reply) == "NOERROR"
    assert children.addresses(reply) == ["192.0.2.1"]
    assert reply.flags & dns.flags.RD, "RD echoes the client's"
    assert [q.transport for q in upstream.queries] == ["tcp" if tcp else "udp"]


def test_the_question_goes_upstream_in_the_clients_letter_case(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    reply = children.query(server.port, "MiXeD.Example.NET", "A")
    assert reply.question[0].name.to_text() == "MiXeD.Example.NET."
    assert upstream.names() == ["MiXeD.Example.NET."]


def test_edns_goes_upstream_only_with_the_client_and_carries_do(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    children.query(server.port, "plain.example.net", "A")
    children.query(server.port, "edns.example.net", "A", edns=True, payload=4096)
    reply = children.query(server.port, "do.example.net", "A", dnssec=True)
    plain, edns, do = upstream.queries
    assert (plain.edns, edns.edns, do.edns) == (False, True, True)
    assert (edns.payload, edns.do, do.do) == (1232, False, True)
    assert reply.edns == 0 and reply.ednsflags & dns.flags.DO


def test_every_query_goes_upstream_with_a_fresh_id(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    for _ in range(20):
        children.query(server.port, "ids.example.net", "A")
    ids = {q.id for q in upstream.queries}
    assert len(ids) >= 19, "IDs are random (a repeat among 20 is a 0.3 % event)"


@pytest.mark.parametrize("name", ["private.example.net", "host.private.example.net", "example.org"])
def test_names_not_forwarded_go_to_the_next_plugin(
    server: kdnsproc.Server, upstream: FakeUpstream, name: str
) -> None:
    reply = children.query(server.port, name, "A")
    assert children.rcode(reply) == "NOERROR"
    assert not reply.answer
    assert is_whoami(reply)
    assert upstream.count == 0


def test_the_from_zone_itself_is_forwarded(server: kdnsproc.Server, upstream: FakeUpstream) -> None:
    children.query(server.port, "example.net", "NS")
    assert upstream.names() == ["example.net."]


def test_nxdomain_from_upstream_is_passed_on(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    upstream.rcodes["gone.example.net."] = dns.rcode.NXDOMAIN
    reply = children.query(server.port, "gone.example.net", "A")
    assert children.rcode(reply) == "NXDOMAIN"


def test_next_servfail_hands_the_query_to_the_next_plugin(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    upstream.rcodes["broken.example.net."] = dns.rcode.SERVFAIL
    reply = children.query(server.port, "broken.example.net", "A")
    assert children.rcode(reply) == "NOERROR"
    assert is_whoami(reply)
    assert upstream.names() == ["broken.example.net."]


def test_a_second_kdns_as_upstream() -> None:
    # The upstream is a real kdns answering whoami: the SRV record it returns holds the source
    # port the forwarder used, which must differ between two queries.
    with children.serve(".:{port} {\n    whoami\n}\n") as inner:
        corefile = f".:{{port}} {{\n    forward . 127.0.0.1:{inner.port}\n}}\n"
        with children.serve(corefile) as outer:
            ports = set()
            for _ in range(3):
                reply = children.query(outer.port, "who.example", "A")
                assert children.rcode(reply) == "NOERROR"
                texts = [rr.to_text() for rr in reply.additional]
                assert texts[0] == "who.example. 0 IN A 127.0.0.1"
                ports.add(texts[1].split()[-2])
            assert len(ports) == 3


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this host")
def test_an_ipv6_upstream_in_brackets() -> None:
    with FakeUpstream(host="::1") as up:
        corefile = f".:{{port}} {{\n    forward . [::1]:{up.port}\n}}\n"
        with children.serve(corefile) as srv:
            assert children.addresses(children.query(srv.port, "v6.example")) == ["192.0.2.1"]
            assert children.addresses(children.query(srv.port, "v6.example", tcp=True)) == [
                "192.0.2.1"
            ]
        assert [q.transport for q in up.queries] == ["udp", "tcp"]

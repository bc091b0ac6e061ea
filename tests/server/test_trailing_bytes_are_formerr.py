"""Issue 9 item 1: bytes after the last record a query's counts announce make it FORMERR (as
dnspython's TrailingJunk), so an accepted query is never more than its header, question and OPT,
and no table keyed by query bytes can be made to hold 60 KB per entry."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from kdns import wire
from tests.support import clients, kdnsproc

JUNK = b"\xa5" * 60_000
COREFILE = """\
example.test {
    records example.yaml
}
"""
ZONE = "zone: example.test\nrecords:\n  web: {A: 10.0.0.80}\n"


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE, files={"example.yaml": ZONE}) as srv:
        yield srv


def send(server: kdnsproc.Server, data: bytes) -> dns.message.Message:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 17)
        sock.settimeout(3)
        sock.sendto(data, (clients.LOCALHOST, server.port))
        reply, _ = sock.recvfrom(65535)
    return dns.message.from_wire(reply)


@pytest.mark.parametrize("edns", [False, True], ids=["no-opt", "after-opt"])
def test_a_query_with_60kb_of_junk_gets_formerr(server: kdnsproc.Server, edns: bool) -> None:
    query = dns.message.make_query("web.example.test.", "A", use_edns=0 if edns else False)
    for _ in range(3):  # the same datagram again is still FORMERR, never a kept answer
        reply = send(server, query.to_wire() + JUNK)
        assert reply.rcode() == dns.rcode.FORMERR
        assert reply.id == query.id
        assert not reply.answer
    reply = send(server, query.to_wire())
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.address for r in reply.answer[0]] == ["10.0.0.80"]


def test_a_query_longer_than_the_bound_gets_formerr_over_tcp(server: kdnsproc.Server) -> None:
    query = dns.message.make_query("web.example.test.", "A", use_edns=0)
    data = query.to_wire() + b"\x00" * (wire.MAX_QUERY)
    reply = dns.message.from_wire(clients.tcp_exchange(data, server.port))
    assert reply.rcode() == dns.rcode.FORMERR

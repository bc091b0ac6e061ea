"""USER-NEEDS #2: a UDP reply leaves from the address the query was sent to.

With a wildcard bind (no ``bind``: 0.0.0.0 and ::), a server that replies through plain
``sendto`` answers from whatever source routing picks; a client that queried 127.0.0.2 then gets
a reply from 127.0.0.1 and drops it ("reply from unexpected source"), which is one of the ways to
the 5-second timeouts. Every 127.0.0.0/8 address routes to ``lo`` on Linux, so one host is enough.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.support import clients, kdnsproc

WHOAMI = ". {\n    whoami\n}\n"


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) here")


@pytest.fixture(scope="module")
def wildcard() -> Iterator[kdnsproc.Server]:
    with clients.serve(WHOAMI) as srv:
        # Printed once every listener (0.0.0.0 and ::) is open.
        srv.proc.wait_for_line(f".:{srv.port}")
        yield srv


def exchange_from(
    source: str, destination: str, port: int, *, qid: int = 0x5151
) -> tuple[dns.message.Message, str]:
    """Query ``destination`` from a socket bound to ``source``; the reply and its source address."""
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(3)
        query = clients.make_query("whoami.example.", "A", qid=qid)
        sock.sendto(query.to_wire(), (destination, port))
        raw, addr = sock.recvfrom(65535)
    reply = dns.message.from_wire(raw)
    assert reply.id == qid
    return reply, addr[0]


def whoami_address(reply: dns.message.Message) -> str:
    for rrset in reply.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            return str(rrset[0].address)
    raise AssertionError(f"no address in {reply}")


@pytest.mark.parametrize("destination", ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.1.2.3"])
def test_a_wildcard_bind_replies_from_the_queried_address(
    wildcard: kdnsproc.Server, destination: str
) -> None:
    reply, source = exchange_from("127.0.0.1", destination, wildcard.port)
    assert source == destination
    assert reply.rcode() == dns.rcode.NOERROR
    assert whoami_address(reply) == "127.0.0.1"


def test_a_wildcard_bind_keeps_each_client_source(wildcard: kdnsproc.Server) -> None:
    # The reply goes back to the client's own address, whichever it used.
    reply, source = exchange_from("127.0.0.5", "127.0.0.2", wildcard.port)
    assert source == "127.0.0.2"
    assert whoami_address(reply) == "127.0.0.5"


def test_dig_sees_no_unexpected_source(wildcard: kdnsproc.Server, dig: str) -> None:
    result = clients.run_dig(
        dig, wildcard.port, "-b", "127.0.0.1", "whoami.example", "+tries=1", "+time=2",
        host="127.0.0.2",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "unexpected source" not in output, output
    assert result.returncode == 0, output
    assert "status: NOERROR" in output
    assert "SERVER: 127.0.0.2#" in output


@needs_ipv6
def test_a_wildcard_bind_answers_ipv6(wildcard: kdnsproc.Server) -> None:
    reply, source = exchange_from("::1", "::1", wildcard.port)
    assert source == "::1"
    assert whoami_address(reply) == "::1"


@pytest.fixture(scope="module")
def two_addresses() -> Iterator[kdnsproc.Server]:
    corefile = ". {\n    bind 127.0.0.2 127.0.0.3\n    whoami\n}\n"
    with clients.serve(corefile, host="127.0.0.2") as srv:
        srv.proc.wait_for_line(f".:{srv.port} on 127.0.0.2, 127.0.0.3")
        yield srv


@pytest.mark.parametrize("destination", ["127.0.0.2", "127.0.0.3"])
def test_bind_to_two_addresses_answers_on_both(
    two_addresses: kdnsproc.Server, destination: str, dig: str
) -> None:
    reply, source = exchange_from("127.0.0.1", destination, two_addresses.port)
    assert source == destination
    assert whoami_address(reply) == "127.0.0.1"
    tcp = kdnsproc.Server(two_addresses.proc, two_addresses.port, destination)
    assert tcp.query("whoami.example.", tcp=True).rcode() == dns.rcode.NOERROR
    result = clients.run_dig(dig, two_addresses.port, "whoami.example", host=destination)
    assert "unexpected source" not in result.stdout + result.stderr
    assert "status: NOERROR" in result.stdout


def test_bind_to_two_addresses_leaves_the_others_alone(two_addresses: kdnsproc.Server) -> None:
    query = clients.make_query("whoami.example.", "A").to_wire()
    assert clients.udp_exchange(query, two_addresses.port, host="127.0.0.1", timeout=0.5) is None
    with pytest.raises(ConnectionRefusedError):
        clients.tcp_connect(two_addresses.port, host="127.0.0.1").close()


@needs_ipv6
def test_bind_to_ipv6_loopback() -> None:
    corefile = ". {\n    bind ::1\n    whoami\n}\n"
    with clients.serve(corefile, host="::1") as srv:
        for tcp in (False, True):
            reply = srv.query("whoami.example.", "AAAA", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert whoami_address(reply) == "::1"
        reply, source = exchange_from("::1", "::1", srv.port)
        assert source == "::1"
        query = clients.make_query("whoami.example.", "A").to_wire()
        assert clients.udp_exchange(query, srv.port, host="127.0.0.1", timeout=0.5) is None

"""Requirement 12 of USER-NEEDS: whatever the upstream does, the client gets a well-formed reply,
and a reply that was cut always says so with TC.

kdns does what CoreDNS does: the protocol upstream is the client's, so a UDP client whose answer
does not fit gets TC=1 and retries over TCP, which kdns forwards over TCP. With ``prefer_udp`` a
TCP client's query goes upstream over UDP first and forward itself retries over TCP on TC. An
upstream answer bigger than the client's buffer is cut at a record boundary with TC set, and a
reply that cannot be read becomes an empty TC=1 reply (coredns/coredns#5953).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import dns.flags
import dns.message
import pytest

from tests.support import children, kdnsproc
from tests.support.upstream import FakeUpstream

BIG = "big.example."
ADDRESSES = [f"192.0.2.{i}" for i in range(1, 101)]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.answers[(BIG, "A")] = ADDRESSES
        yield up


@pytest.fixture(autouse=True)
def fresh(upstream: FakeUpstream) -> Iterator[None]:
    upstream.reset()
    yield
    upstream.oversize_udp = False
    upstream.garbage = False
    upstream.truncate_udp = False


def forwarder(upstream: FakeUpstream, options: str = "") -> Iterator[kdnsproc.Server]:
    block = f" {{\n        {options}\n    }}" if options else ""
    corefile = f".:{{port}} {{\n    forward . 127.0.0.1:{upstream.port}{block}\n}}\n"
    with children.serve(corefile) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    yield from forwarder(upstream)


@pytest.fixture(scope="module")
def prefer_udp(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    yield from forwarder(upstream, "prefer_udp")


@pytest.fixture(scope="module")
def force_tcp(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    yield from forwarder(upstream, "force_tcp")


def header(out: str) -> tuple[set[str], int]:
    """dig's flags and ANSWER count."""
    flags = re.search(r";; flags: ([a-z ]+);", out)
    count = re.search(r"ANSWER: (\d+)", out)
    assert flags and count, out
    return set(flags.group(1).split()), int(count.group(1))


def test_dig_noedns_gets_tc(server: kdnsproc.Server, upstream: FakeUpstream) -> None:
    flags, count = header(children.dig(server.port, BIG, "A", "+noedns", "+ignore"))
    assert "tc" in flags
    assert count < 100
    assert [q.edns for q in upstream.queries] == [False]


def test_dig_bufsize_1232_gets_tc(server: kdnsproc.Server, upstream: FakeUpstream) -> None:
    flags, count = header(children.dig(server.port, BIG, "A", "+bufsize=1232", "+ignore"))
    assert "tc" in flags
    assert count < 100
    assert [(q.edns, q.payload) for q in upstream.queries] == [(True, 1232)]


def test_dig_tcp_gets_everything(server: kdnsproc.Server, upstream: FakeUpstream) -> None:
    flags, count = header(children.dig(server.port, BIG, "A", "+tcp"))
    assert "tc" not in flags
    assert count == 100
    assert [q.transport for q in upstream.queries] == ["tcp"]


def test_dig_retries_over_tcp_after_tc_and_gets_everything(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    out = children.dig(server.port, BIG, "A", "+noedns")
    assert "Truncated, retrying in TCP mode" in out
    assert header(out) == ({"qr", "rd", "ra"}, 100)
    assert [q.transport for q in upstream.queries] == ["udp", "tcp"]


def test_an_upstream_answer_past_the_clients_buffer_is_cut_at_a_record(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    # A broken upstream sends all 100 records over UDP to a query without EDNS.
    upstream.oversize_udp = True
    raw = children.udp_raw(server.port, dns.message.make_query(BIG, "A"))
    reply = dns.message.from_wire(raw)
    assert len(raw) <= 512
    assert reply.flags & dns.flags.TC
    assert 0 < len(reply.answer[0]) < 100


def test_garbage_from_upstream_becomes_an_empty_tc_reply(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    upstream.garbage = True
    reply = children.query(server.port, "garbage.example", "A")
    assert children.rcode(reply) == "NOERROR"
    assert reply.flags & dns.flags.TC
    assert not reply.answer


def test_a_truncated_udp_reply_reaches_the_udp_client_with_tc(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    upstream.truncate_udp = True
    reply = children.query(server.port, "small.example", "A", edns=True)
    assert reply.flags & dns.flags.TC
    assert not reply.answer


def test_prefer_udp_retries_upstream_over_tcp_for_a_tcp_client(
    prefer_udp: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    reply = children.query(prefer_udp.port, BIG, "A", tcp=True)
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer[0]) == 100
    assert [q.transport for q in upstream.queries] == ["udp", "tcp"]


def test_prefer_udp_retries_over_tcp_for_a_udp_client_too(
    prefer_udp: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    # The full answer comes back over TCP, then is cut to the client's 1232 bytes with TC set.
    reply = children.query(prefer_udp.port, BIG, "A", edns=True)
    assert reply.flags & dns.flags.TC
    assert 0 < len(reply.answer[0]) < 100
    assert [q.transport for q in upstream.queries] == ["udp", "tcp"]


def test_force_tcp_asks_over_tcp_and_cuts_for_a_udp_client(
    force_tcp: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    raw = children.udp_raw(force_tcp.port, dns.message.make_query(BIG, "A"))
    reply = dns.message.from_wire(raw)
    assert len(raw) <= 512
    assert reply.flags & dns.flags.TC
    assert 0 < len(reply.answer[0]) < 100
    assert [q.transport for q in upstream.queries] == ["tcp"]

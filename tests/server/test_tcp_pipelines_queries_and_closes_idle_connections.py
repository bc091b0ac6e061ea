"""TCP serving as RFC 7766 and USER-NEEDS #34 ask: pipelining, reuse, and a careful idle timeout.

Clients (glibc, NodeLocal DNSCache, dig +keepopen) send several queries on one connection without
waiting, and expect every one answered. The idle timeout (CoreDNS's default: 10 s) closes a
connection with nothing in flight; a query begun must arrive whole within the read timeout (3 s)
of its first byte, so a client trickling bytes cannot hold a connection (issue 9).
"""

from __future__ import annotations

import random
import re
import select
import socket
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.support import clients, kdnsproc, upstream

COREFILE = """\
whoami.test {
    whoami
}
"""

#: CoreDNS's ``timeouts`` defaults for TCP connections, which kdns follows.
IDLE_TIMEOUT = 10.0
READ_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        yield srv


def pipelined_queries(count: int, seed: int) -> dict[int, dns.message.Message]:
    """``count`` queries with distinct IDs and names, so each reply can be matched to its query."""
    rng = random.Random(seed)
    ids = rng.sample(range(1, 65536), count)
    return {
        qid: clients.make_query(f"q{n}.whoami.test.", "AAAA" if n % 2 else "A", qid=qid)
        for n, qid in enumerate(ids)
    }


def check_replies(queries: dict[int, dns.message.Message], raw: list[bytes]) -> None:
    replies = [dns.message.from_wire(r) for r in raw]
    assert sorted(r.id for r in replies) == sorted(queries), "every ID answered exactly once"
    for reply in replies:
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.question == queries[reply.id].question, "the reply answers its own query"


@pytest.mark.parametrize("count", [100, 1000])
def test_queries_written_in_one_go_are_all_answered(server: kdnsproc.Server, count: int) -> None:
    queries = pipelined_queries(count, seed=count)
    with clients.tcp_connect(server.port) as sock:
        sock.sendall(b"".join(clients.frame(q.to_wire()) for q in queries.values()))
        raw = clients.read_frames(sock, count, timeout=10)
    check_replies(queries, raw)


def test_queries_split_at_arbitrary_bytes_are_all_answered(server: kdnsproc.Server) -> None:
    # The stream is cut anywhere, including inside the two-byte length prefix.
    queries = pipelined_queries(50, seed=7)
    stream = b"".join(clients.frame(q.to_wire()) for q in queries.values())
    rng = random.Random(7)
    with clients.tcp_connect(server.port) as sock:
        offset = 0
        while offset < len(stream):
            step = rng.randint(1, 40)
            sock.sendall(stream[offset : offset + step])
            offset += step
            time.sleep(0.001)
        raw = clients.read_frames(sock, len(queries), timeout=10)
    check_replies(queries, raw)


def test_a_slow_answer_does_not_hold_back_later_ones() -> None:
    """RFC 7766 6.2.1.1: replies go out as they complete, so a slow upstream answer comes last."""
    with upstream.running(delay=0.6) as up:
        corefile = (
            f"slow.test {{\n    forward . 127.0.0.1:{up.port}\n}}\nfast.test {{\n    whoami\n}}\n"
        )
        with clients.serve(corefile) as srv, clients.tcp_connect(srv.port) as sock:
            slow = clients.make_query("x.slow.test.", "A", qid=1)
            fast = [clients.make_query(f"f{n}.fast.test.", "A", qid=n) for n in (2, 3, 4)]
            started = time.monotonic()
            sock.sendall(b"".join(clients.frame(q.to_wire()) for q in [slow, *fast]))
            early = clients.read_frames(sock, 3, timeout=0.4)
            early_ids = [dns.message.from_wire(r).id for r in early]
            assert early_ids == [2, 3, 4], f"after {time.monotonic() - started:.2f}s: {early_ids}"
            (late,) = clients.read_frames(sock, 1, timeout=3)
            reply = dns.message.from_wire(late)
            assert reply.id == 1
            assert reply.rcode() == dns.rcode.NOERROR and reply.answer
            assert time.monotonic() - started >= 0.5


def test_dig_keepopen_sends_several_queries_on_one_connection(
    server: kdnsproc.Server, dig: str
) -> None:
    names = [f"k{n}.whoami.test" for n in range(5)]
    result = clients.run_dig(dig, server.port, "+tcp", "+keepopen", "+nocookie", *names)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("status: NOERROR") == 5, result.stdout
    # whoami's SRV record carries the client's port: one port means one connection.
    ports = {
        int(m.group(2))
        for m in re.finditer(
            r"^_tcp\.(k\d)\.whoami\.test\.\s+0\s+IN\s+SRV\s+0 0 (\d+) \.", result.stdout, re.M
        )
    }
    seen = set(re.findall(r"^_tcp\.(k\d)\.whoami\.test\.", result.stdout, re.M))
    assert seen == {f"k{n}" for n in range(5)}, result.stdout
    assert len(ports) == 1, f"dig +keepopen used {len(ports)} connections: {result.stdout}"


def test_a_connection_serves_many_rounds(server: kdnsproc.Server) -> None:
    # No per-connection query cap by default (USER-NEEDS #34).
    with clients.tcp_connect(server.port) as sock:
        for round_ in range(20):
            queries = pipelined_queries(10, seed=round_)
            sock.sendall(b"".join(clients.frame(q.to_wire()) for q in queries.values()))
            check_replies(queries, clients.read_frames(sock, 10))


def closed(sock: socket.socket) -> bool:
    """True once the peer has closed (EOF or reset); False while the connection is open and quiet."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except ConnectionResetError:
        return True
    return data == b""


@pytest.mark.slow
def test_the_default_timeouts_close_silent_idle_and_half_sent_connections(
    server: kdnsproc.Server,
) -> None:
    """CoreDNS's defaults, one run for three connections at once to keep the suite short: a
    connection that never sends a query closes after ``read`` (3 s), one that was answered after
    ``idle`` (10 s), and a query begun but never finished after ``read`` from its first byte
    (the old 30 s stall timer restarted with every byte, so a trickle held it for hours)."""
    query = clients.frame(clients.make_query("half.whoami.test.", "A", qid=0x4A1F).to_wire())
    started = time.monotonic()
    silent = clients.tcp_connect(server.port)
    used = clients.tcp_connect(server.port)
    half = clients.tcp_connect(server.port)
    try:
        for sock in (used, half):
            sock.sendall(clients.frame(clients.make_query("used.whoami.test.", "A").to_wire()))
            assert len(clients.read_frames(sock, 1)) == 1
        half.sendall(query[:9])

        closed_at: dict[str, float] = {}
        deadline = started + IDLE_TIMEOUT + 3.0
        open_socks = {"silent": silent, "used": used, "half": half}
        while open_socks and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_socks.values()), [], [], 0.1)
            for name, sock in list(open_socks.items()):
                if sock in readable and closed(sock):
                    closed_at[name] = time.monotonic() - started
                    del open_socks[name]
        assert set(closed_at) == {"silent", "used", "half"}, f"open after {IDLE_TIMEOUT + 3}s"
        assert READ_TIMEOUT - 0.5 <= closed_at["silent"] <= READ_TIMEOUT + 2.0, closed_at
        assert READ_TIMEOUT - 0.5 <= closed_at["half"] <= READ_TIMEOUT + 2.0, closed_at
        assert IDLE_TIMEOUT - 0.5 <= closed_at["used"] <= IDLE_TIMEOUT + 2.5, closed_at
    finally:
        for sock in (silent, used, half):
            sock.close()


def test_an_answered_connection_stays_open_well_before_the_timeout(server: kdnsproc.Server) -> None:
    # The fast counterpart of the test above: nothing closes a connection early.
    with clients.tcp_connect(server.port) as sock:
        sock.sendall(clients.frame(clients.make_query("early.whoami.test.", "A").to_wire()))
        assert len(clients.read_frames(sock, 1)) == 1
        time.sleep(1.0)
        assert not closed(sock)
        sock.sendall(clients.frame(clients.make_query("again.whoami.test.", "A").to_wire()))
        assert len(clients.read_frames(sock, 1)) == 1

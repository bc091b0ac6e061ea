"""USER-NEEDS #1: both halves of an A/AAAA burst are answered.

glibc sends the A and AAAA queries of one lookup back-to-back from one UDP socket (same source
port, different IDs). A server that loses either half (a conntrack race in front of it, or a
receive path that drops under a burst) costs the client a 5-second retry. One socket here sends
thousands of such pairs without waiting, while a thread reads the replies as they come.
"""

from __future__ import annotations

import random
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.support import clients, kdnsproc

PAIRS = 2000
COREFILE = "cluster.local {\n    whoami\n}\n"


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        yield srv


class Reader(threading.Thread):
    """Reads replies off ``sock`` until ``expected`` arrived or ``timeout`` passed."""

    def __init__(self, sock: socket.socket, expected: int, timeout: float) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.expected = expected
        self.deadline = time.monotonic() + timeout
        self.replies: list[tuple[float, bytes]] = []

    def run(self) -> None:
        while len(self.replies) < self.expected:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(min(left, 0.5))
            try:
                raw = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.replies.append((time.monotonic(), raw))


def pair(qid_a: int, qid_aaaa: int, n: int) -> tuple[bytes, bytes]:
    name = f"svc{n}.default.svc.cluster.local."
    a = clients.make_query(name, "A", qid=qid_a).to_wire()
    aaaa = clients.make_query(name, "AAAA", qid=qid_aaaa).to_wire()
    return a, aaaa


def test_a_burst_of_pairs_from_one_socket_is_answered_exactly_once(
    server: kdnsproc.Server,
) -> None:
    rng = random.Random(1)
    ids = rng.sample(range(65536), 2 * PAIRS)
    wanted = {}
    datagrams = []
    for n in range(PAIRS):
        qid_a, qid_aaaa = ids[2 * n], ids[2 * n + 1]
        a, aaaa = pair(qid_a, qid_aaaa, n)
        wanted[qid_a] = (dns.rdatatype.A, f"svc{n}")
        wanted[qid_aaaa] = (dns.rdatatype.AAAA, f"svc{n}")
        datagrams += [a, aaaa]

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Room for every reply, so a slow reader here is not mistaken for a loss in kdns.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.connect((server.host, server.port))
        reader = Reader(sock, len(datagrams), timeout=20)
        reader.start()
        started = time.monotonic()
        for data in datagrams:
            sock.send(data)
        reader.join(25)
        elapsed = time.monotonic() - started

    seen: dict[int, int] = {}
    for _, raw in reader.replies:
        reply = dns.message.from_wire(raw)
        seen[reply.id] = seen.get(reply.id, 0) + 1
        rdtype, label = wanted[reply.id]
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.question[0].rdtype == rdtype
        assert reply.question[0].name.labels[0].decode() == label
    missing = set(wanted) - set(seen)
    doubled = {qid for qid, count in seen.items() if count > 1}
    assert not missing, f"{len(missing)} of {len(wanted)} queries unanswered"
    assert not doubled, f"{len(doubled)} queries answered twice"
    assert elapsed < 15, f"{len(datagrams)} queries took {elapsed:.1f}s"


def test_pairs_one_lookup_at_a_time_are_answered_quickly(server: kdnsproc.Server) -> None:
    """The latency a resolver sees: send a pair, wait for both halves (p99 well under 50 ms)."""
    durations = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((server.host, server.port))
        sock.settimeout(2)
        for n in range(300):
            a, aaaa = pair(2 * n + 1, 2 * n + 2, n)
            started = time.perf_counter()
            sock.send(a)
            sock.send(aaaa)
            got = {dns.message.from_wire(sock.recv(65535)).id for _ in range(2)}
            durations.append(time.perf_counter() - started)
            assert got == {2 * n + 1, 2 * n + 2}
    p99 = statistics.quantiles(durations, n=100)[98]
    assert p99 < 0.05, f"p99 {p99 * 1000:.1f} ms"

"""Whatever a client sends, the replay tables of a kdns process stay within their byte budget:
queries with junk after the question are never kept, and a flood of distinct names fills the
tables only up to ``replay.BUDGET`` (issue 9: 25,000 junk datagrams took RSS to 1 GB)."""

from __future__ import annotations

import re
import select
import socket
import time
import urllib.request
from collections.abc import Callable

import dns.message

from kdns import replay
from tests.support import clients, kdnsproc

COUNT = 25_000
WINDOW = 32
JUNK = 8_000
#: RSS a kdns may grow by over both floods: the replay budget plus room for the allocator.
GROWTH_BOUND_KB = (replay.BUDGET >> 10) + 48 * 1024
#: Three 60-byte labels: 25,000 such names need more than the budget, so it is enforced.
LONG = ("x" * 60 + ".") * 3
ZONE = "zone: example.test\nrecords:\n  web: {A: 10.0.0.1}\n"


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _flood(port: int, make: Callable[[int], bytes], pid: int, peak: list[int]) -> int:
    """Send ``COUNT`` datagrams with at most ``WINDOW`` unanswered, bounded in time; returns
    how many replies came back, and samples kdns's RSS into ``peak``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + 120
    replies = 0
    try:
        for i in range(COUNT):
            sock.sendto(make(i), ("127.0.0.1", port))
            while i + 1 - replies > WINDOW:
                if not select.select([sock], [], [], 0.2)[0]:
                    replies = i + 1 - WINDOW  # lost: go on rather than wait forever
                    break
                sock.recv(65535)
                replies += 1
            assert time.monotonic() < deadline, "flood took too long"
            if i % 500 == 0:
                peak[0] = max(peak[0], _rss_kb(pid))
        while select.select([sock], [], [], 0.2)[0]:
            sock.recv(65535)
            replies += 1
    finally:
        sock.close()
    return replies


def _gauge(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        found = re.search(rf"^{name} (\S+)$", resp.read().decode(), re.M)
    assert found is not None, f"no {name}"
    return float(found.group(1))


def test_junk_and_distinct_names_keep_memory_within_the_budget() -> None:
    metrics = kdnsproc.free_port()
    corefile = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        f"    prometheus 127.0.0.1:{metrics}\n    records zone.yaml\n}}\n"
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        pid = srv.proc.proc.pid
        assert srv.query("web.example.test.").answer
        start = _rss_kb(pid)
        query = dns.message.make_query("web.example.test.", "A").to_wire()
        padding = b"\x00" * JUNK
        peak = [start]
        answered = _flood(srv.port, lambda i: query + i.to_bytes(4, "big") + padding, pid, peak)
        answered += _flood(
            srv.port,
            lambda i: dns.message.make_query(f"n{i:05d}.{LONG}example.test.", "A").to_wire(),
            pid,
            peak,
        )
        assert answered > COUNT  # the floods reached kdns
        assert srv.query("web.example.test.").answer
        grown = max(peak[0], _rss_kb(pid)) - start
        assert grown < GROWTH_BOUND_KB, f"RSS grew by {grown} KiB"
        held = _gauge(metrics, "kdns_replay_bytes")
        assert 0 < held <= replay.BUDGET
        assert _gauge(metrics, "kdns_replay_entries") > 0

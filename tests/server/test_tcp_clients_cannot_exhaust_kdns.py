"""Hostile TCP clients against a real kdns process (issue 9 items 2 and 3).

Each test asserts a bound an attacker used to break, measured from outside: the kdns process's
resident memory (/proc/PID/status), connections the server closes, probes answered, and the
``kdns_tcp_connections`` gauge. Short ``timeouts`` keep the slow-client tests quick.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
import urllib.request
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from tests.support import clients, kdnsproc, upstream

MB = 1024 * 1024
#: kdns's connections per listener and what one source address may hold of them.
MAX_CONNECTIONS = 1000
PER_SOURCE = 125

BIG_ZONE = "zone: big.test\nttl: 60\nrecords:\n  '@':\n    A: [{}]\n".format(
    ", ".join(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(400))
)


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def closed(sock: socket.socket) -> bool:
    """True once the peer has closed (EOF or reset); False while the connection is open and quiet."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def connect_from(source: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(3)
    sock.connect(("127.0.0.1", port))
    return sock


def scrape_gauge(port: int) -> float:
    """The sum of ``kdns_tcp_connections`` over its series."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    values = re.findall(r"^kdns_tcp_connections\{[^}]*\} (\S+)$", text, re.M)
    assert values, "kdns_tcp_connections is not exported"
    return sum(float(v) for v in values)


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not met within {timeout}s")


def tcp_answered(source: str, port: int, name: str) -> bool:
    try:
        with connect_from(source, port) as sock:
            sock.sendall(clients.frame(clients.make_query(name, "A", qid=99).to_wire()))
            replies = clients.read_frames(sock, 1, timeout=2)
    except OSError:
        return False
    return len(replies) == 1 and dns.message.from_wire(replies[0]).rcode() == dns.rcode.NOERROR


# --- memory ---------------------------------------------------------------------------------


@contextlib.contextmanager
def big_answers(kind: str) -> Iterator[kdnsproc.Server]:
    """kdns answering ``big.test A`` with 400 addresses (6 KB), locally or through forward."""
    if kind == "records":
        corefile = "big.test:{port} {\n    bind 127.0.0.1\n    records big.yaml\n}\n"
        with clients.serve(corefile, files={"big.yaml": BIG_ZONE}) as srv:
            yield srv
        return
    with upstream.running(a_count=400) as up:
        corefile = (
            "big.test:{port} {\n    bind 127.0.0.1\n"
            f"    forward . 127.0.0.1:{up.port} {{\n        force_tcp\n    }}\n}}\n"
        )
        with clients.serve(corefile) as srv:
            yield srv


@pytest.mark.parametrize("kind", ["records", "forward"])
def test_a_client_that_never_reads_replies_cannot_grow_memory(kind: str) -> None:
    """Before: RSS grew by the replies of every query read (GBs; tens of MB in this test)."""
    query = clients.frame(clients.make_query("big.test.", "A", qid=1).to_wire())
    with big_answers(kind) as srv:
        pid = srv.proc.proc.pid
        with clients.tcp_connect(srv.port) as warm:  # the reply path's allocations, once
            warm.sendall(query * 200)
            assert len(clients.read_frames(warm, 200, timeout=10)) == 200
        time.sleep(0.3)
        base = peak = rss(pid)

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        sock.setblocking(False)
        stream = query * 20_000  # 128 MB of replies if all were answered into memory
        sent = 0
        end = time.monotonic() + 3.0
        while sent < len(stream) and time.monotonic() < end:
            try:
                sent += sock.send(stream[sent : sent + 16384])
            except BlockingIOError:
                time.sleep(0.02)
            peak = max(peak, rss(pid))
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            peak = max(peak, rss(pid))
            time.sleep(0.05)
        sock.close()
        time.sleep(0.5)
        after = rss(pid)
        assert srv.proc.proc.poll() is None
        assert peak - base < 4 * MB, f"RSS grew by {(peak - base) / MB:.1f} MB ({sent} bytes sent)"
        assert after - base < 4 * MB, f"RSS kept {(after - base) / MB:.1f} MB after the close"
        assert tcp_answered("127.0.0.1", srv.port, "big.test."), "kdns still answers"


# --- slow clients ---------------------------------------------------------------------------

SHORT = """\
.:{port} {
    bind 127.0.0.1
    timeouts {
        read 1s
        idle 2s
        write 2s
        maxtcpqueries 3
    }
    prometheus 127.0.0.1:METRICS
    whoami
}
"""


@pytest.fixture(scope="module")
def short() -> Iterator[tuple[kdnsproc.Server, int]]:
    metrics = clients.second_port()
    with clients.serve(SHORT.replace("METRICS", str(metrics))) as srv:
        yield srv, metrics


def test_a_query_fed_a_byte_at_a_time_is_cut_at_the_read_deadline(
    short: tuple[kdnsproc.Server, int],
) -> None:
    """Slowloris: a 0xFFFF length prefix, then a byte every 0.25 s. Before: the stall timer
    restarted with every byte and the connection was held for hours."""
    srv, _ = short
    sent = 0
    with clients.tcp_connect(srv.port) as sock:
        sock.sendall(clients.frame(clients.make_query("first.test.", "A").to_wire()))
        assert len(clients.read_frames(sock, 1)) == 1
        sock.sendall(b"\xff\xff")
        for _ in range(40):  # 10 s of trickling at most
            if closed(sock):
                break
            try:
                sock.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.25)
        assert closed(sock) or sent < 40, "kdns still holds the half-sent query"
    # read 1s: about 4 bytes get through; 12 allows for a loaded machine.
    assert sent <= 12, f"the connection took {sent} bytes of one query before it was closed"


def test_idle_and_silent_connections_close_but_a_query_within_the_deadline_is_answered(
    short: tuple[kdnsproc.Server, int],
) -> None:
    srv, _ = short
    query = clients.frame(clients.make_query("half.test.", "A", qid=0x4A1F).to_wire())
    silent = clients.tcp_connect(srv.port)
    used = clients.tcp_connect(srv.port)
    half = clients.tcp_connect(srv.port)
    try:
        for sock in (used, half):
            sock.sendall(clients.frame(clients.make_query("used.test.", "A").to_wire()))
            assert len(clients.read_frames(sock, 1)) == 1
        time.sleep(1.5)
        half.sendall(query[:9])  # the idle timer is 2 s: a query begins before it runs out
        time.sleep(0.6)
        half.sendall(query[9:])  # whole within its read deadline (1 s)
        (raw,) = clients.read_frames(half, 1)
        reply = dns.message.from_wire(raw)
        assert (reply.id, reply.rcode()) == (0x4A1F, dns.rcode.NOERROR)
        wait_until(lambda: closed(silent) and closed(used), timeout=6)
    finally:
        for sock in (silent, used, half):
            sock.close()


def test_maxtcpqueries_closes_the_connection_after_that_many_answers(
    short: tuple[kdnsproc.Server, int],
) -> None:
    srv, _ = short
    with clients.tcp_connect(srv.port) as sock:
        sock.sendall(
            b"".join(
                clients.frame(clients.make_query(f"m{n}.test.", "A", qid=n).to_wire())
                for n in range(5)
            )
        )
        replies = clients.read_frames(sock, 5, timeout=3)
        assert sorted(dns.message.from_wire(r).id for r in replies) == [0, 1, 2]
        wait_until(lambda: closed(sock), timeout=2)


def test_open_connections_are_counted_per_listen_address(
    short: tuple[kdnsproc.Server, int],
) -> None:
    srv, metrics = short
    series = f'kdns_tcp_connections{{server="dns://127.0.0.1:{srv.port}"}} '

    def gauge() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=2) as resp:
            text = resp.read().decode()
        return next((line for line in text.splitlines() if line.startswith(series)), "")

    wait_until(lambda: gauge() in ("", series + "0.0"))  # earlier tests' connections are gone
    socks = [clients.tcp_connect(srv.port) for _ in range(3)]
    try:
        wait_until(lambda: gauge() == series + "3.0", timeout=3)
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: gauge() == series + "0.0", timeout=3)


# --- connection slots -----------------------------------------------------------------------

HOLD = """\
.:{port} {
    bind 127.0.0.1
    timeouts {
        read 60s
        idle 60s
    }
    prometheus 127.0.0.1:METRICS
    whoami
}
"""


@pytest.fixture
def hold() -> Iterator[tuple[kdnsproc.Server, int]]:
    metrics = clients.second_port()
    with clients.serve(HOLD.replace("METRICS", str(metrics))) as srv:
        yield srv, metrics


def test_one_address_cannot_take_every_connection(hold: tuple[kdnsproc.Server, int]) -> None:
    """Before: 1,000 idle connections from one address left 0 of 19 TCP probes answered."""
    srv, metrics = hold
    socks = []
    try:
        for _ in range(MAX_CONNECTIONS):
            with contextlib.suppress(OSError):
                socks.append(connect_from("127.0.0.1", srv.port))
        answered = sum(tcp_answered("127.0.0.2", srv.port, f"p{n}.test.") for n in range(19))
        assert answered == 19, f"{answered} of 19 probes from another address answered"
        wait_until(lambda: scrape_gauge(metrics) <= PER_SOURCE)
        still_open = [s for s in socks if not closed(s)]
        assert len(still_open) == PER_SOURCE, "one address holds more than its share"
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: scrape_gauge(metrics) == 0)


def test_a_full_table_closes_the_connection_idle_longest(
    hold: tuple[kdnsproc.Server, int],
) -> None:
    srv, metrics = hold
    socks: list[socket.socket] = []
    try:
        for source in range(1, 9):  # eight addresses, each at its share: the table is full
            for _ in range(PER_SOURCE):
                socks.append(connect_from(f"127.0.0.{source}", srv.port))
        wait_until(lambda: scrape_gauge(metrics) == MAX_CONNECTIONS)
        assert not any(closed(s) for s in socks)
        assert tcp_answered("127.0.0.9", srv.port, "late.test."), "the newcomer was refused"
        wait_until(lambda: closed(socks[0]), timeout=3)
        assert not any(closed(s) for s in socks[1:]), "not (only) the oldest idle was closed"
        assert scrape_gauge(metrics) <= MAX_CONNECTIONS
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: scrape_gauge(metrics) == 0)

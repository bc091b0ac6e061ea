"""Issue 9 item 4: whatever clients send, forward holds a bounded number of upstream sockets.

- One client TCP connection pipelining 10,000 forwarded queries once made kdns open 4,000-5,400
  TCP connections to the upstream. Now TCP connections are pooled per upstream, at most
  ``TCP_PER_UPSTREAM`` of them, and queries beyond that pipeline on them or wait.
- A burst of UDP queries holds at most a quarter of the descriptor limit in upstream sockets,
  each still on its own random port.
- Under a low descriptor limit, running out is a SERVFAIL and one log line, never a traceback,
  and both listeners still answer afterwards.

Sockets are counted in /proc/PID/fd (sampled every few milliseconds, so a peak can only be
under-counted) and connections on the fake upstream's side.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import dns.message
import dns.rcode

from tests.support import children, clients
from tests.support.upstream import FakeUpstream

#: The documented caps (kdns/plugins/forward/README.md, "Sockets").
TCP_PER_UPSTREAM = 8


#: UDP queries in flight: a quarter of RLIMIT_NOFILE's soft limit, between 16 and 1,024.
def udp_in_flight(nofile: int) -> int:
    return max(16, min(1024, nofile // 4))


#: Sockets beyond the caps that the test allows for: the client's own TCP connection, a health
#: check, and a sample taken while a socket is being replaced.
SLACK = 3
ANSWER = "192.0.2.1"


class SocketSampler:
    """The most sockets a process held at once, from /proc/PID/fd every 2 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = self.count()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> int:
        fd_dir = f"/proc/{self.pid}/fd"
        n = 0
        for name in os.listdir(fd_dir):
            try:
                n += os.readlink(f"{fd_dir}/{name}").startswith("socket:")
            except OSError:
                continue
        return n

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            try:
                self.peak = max(self.peak, self.count())
            except OSError:
                return

    def __enter__(self) -> SocketSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(2)


def queries(count: int, prefix: str) -> list[bytes]:
    out = []
    for i in range(count):
        q = dns.message.make_query(f"{prefix}{i}.example.", "A")
        q.id = i % 65536
        out.append(q.to_wire())
    return out


def pipeline_tcp(
    sock: socket.socket, wires: list[bytes], timeout: float = 90.0
) -> list[dns.message.Message]:
    """Every query on the TCP connection ``sock``, written while replies are read; the
    replies."""
    payload = b"".join(clients.frame(w) for w in wires)
    writer = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    writer.start()
    frames = clients.read_frames(sock, len(wires), timeout=timeout)
    writer.join(5)
    return [dns.message.from_wire(f) for f in frames]


def connect(port: int) -> socket.socket:
    """A TCP connection kdns has taken in (a query answered on it)."""
    sock = socket.create_connection((children.HOST, port), timeout=10)
    assert len(pipeline_tcp(sock, queries(1, "warm"))) == 1
    return sock


def burst_udp(port: int, wires: list[bytes], timeout: float = 30.0) -> list[dns.message.Message]:
    """Every query at once from a few sockets; the replies that came back within ``timeout``."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    replies: list[dns.message.Message] = []
    try:
        for sock in socks:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.setblocking(False)
        for i, wire in enumerate(wires):
            socks[i % len(socks)].sendto(wire, (children.HOST, port))
            if i % 100 == 99:
                time.sleep(0.002)  # the listener's socket buffer must not overflow
        deadline = time.monotonic() + timeout
        while len(replies) < len(wires) and time.monotonic() < deadline:
            got = False
            for sock in socks:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    continue
                replies.append(dns.message.from_wire(data))
                got = True
            if not got:
                time.sleep(0.002)
    finally:
        for sock in socks:
            sock.close()
    return replies


def check_replies(replies: list[dns.message.Message]) -> dict[str, int]:
    """Every reply is the upstream's answer or SERVFAIL; the count of each rcode."""
    counts: dict[str, int] = {}
    for reply in replies:
        rcode = dns.rcode.to_text(reply.rcode())
        counts[rcode] = counts.get(rcode, 0) + 1
        assert rcode in ("NOERROR", "SERVFAIL"), rcode
        if rcode == "NOERROR":
            assert children.addresses(reply) == [ANSWER]
    return counts


def nofile(limit: int) -> Callable[[], None]:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return lower


def assert_clean_log(output: str) -> None:
    assert "Traceback" not in output, output[-3000:]
    noisy = [line for line in output.splitlines() if line.startswith(("[ERROR]", "[WARNING]"))]
    assert len(noisy) <= 3, "\n".join(noisy[:20])


def assert_listeners_answer(port: int) -> None:
    for tcp in (False, True):
        reply = children.query(port, "after.example.", tcp=tcp, timeout=5)
        assert children.rcode(reply) == "NOERROR" and children.addresses(reply) == [ANSWER]
        probe = children.query(port, "kdns-probe.invalid.", tcp=tcp, timeout=5)
        assert children.rcode(probe) == "NOERROR"


def test_ten_thousand_pipelined_queries_use_a_few_pooled_connections() -> None:
    with FakeUpstream() as up:
        corefile = f".:{{port}} {{\n    forward . 127.0.0.1:{up.port}\n}}\n"
        with children.serve(corefile) as srv:
            with connect(srv.port) as conn, SocketSampler(srv.proc.proc.pid) as sampler:
                replies = pipeline_tcp(conn, queries(10_000, "p"))
            assert len(replies) == 10_000
            counts = check_replies(replies)
            assert counts.get("NOERROR", 0) > 0
            assert up.connections["tcp"] <= TCP_PER_UPSTREAM
            assert sampler.peak - sampler.baseline <= TCP_PER_UPSTREAM + SLACK
            assert_clean_log(srv.proc.output)


def test_a_udp_burst_holds_a_bounded_number_of_sockets() -> None:
    limit = 256
    with FakeUpstream() as up:
        up.delay = 0.2  # every upstream query stays in flight a while
        corefile = f".:{{port}} {{\n    forward . 127.0.0.1:{up.port}\n}}\n"
        with children.serve(corefile, preexec_fn=nofile(limit)) as srv:
            with SocketSampler(srv.proc.proc.pid) as sampler:
                replies = burst_udp(srv.port, queries(1_500, "u"))
            assert len(replies) == 1_500
            counts = check_replies(replies)
            assert counts.get("NOERROR", 0) >= udp_in_flight(limit)
            assert sampler.peak - sampler.baseline <= udp_in_flight(limit) + SLACK
            ports = [q.port for q in up.queries if q.transport == "udp"]
            assert len(set(ports)) == len(ports), "each UDP query on a port of its own"
            assert_clean_log(srv.proc.output)
            assert_listeners_answer(srv.port)


def test_out_of_descriptors_is_servfail_without_traceback() -> None:
    """Idle client connections take most of 128 descriptors, so upstream sockets really run
    out (EMFILE) before forward's own caps are reached."""
    with FakeUpstream() as up:
        up.delay = 0.05
        corefile = f".:{{port}} {{\n    forward . 127.0.0.1:{up.port}\n}}\n"
        with children.serve(corefile, preexec_fn=nofile(128)) as srv:
            # Connected and answered before descriptors run out: a connection arriving while
            # none is left cannot be accepted (the listener's business, not forward's).
            conn = connect(srv.port)
            idle = [socket.create_connection((children.HOST, srv.port)) for _ in range(90)]
            try:
                tcp: list[dns.message.Message] = []
                flood = threading.Thread(
                    target=lambda: tcp.extend(pipeline_tcp(conn, queries(3_000, "t"))),
                    daemon=True,
                )
                flood.start()
                udp = burst_udp(srv.port, queries(3_000, "f"))
                flood.join(120)
            finally:
                conn.close()
                for sock in idle:
                    sock.close()
            counts = check_replies(udp)
            check_replies(tcp)
            assert len(tcp) == 3_000
            assert counts.get("SERVFAIL", 0) > 0, "the descriptors did run out"
            # Past the limit a reply may be dropped, never wrong.
            assert len(udp) >= 1_500
            assert_clean_log(srv.proc.output)
            assert_listeners_answer(srv.port)

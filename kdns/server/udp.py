"""UDP listener: replies kept for repeated queries go out from a reader thread.

When some route of the listener may replay (``kdns.replay``: every link of its chain declares
a lease), a reader thread sleeps in ``recvfrom`` on the blocking socket
and wakes once per datagram: two system calls per query, as a C server makes, where an
event-loop reader pays an epoll wake-up plus a ``recvfrom`` ending in EAGAIN, whose
exception alone costs several microseconds of cold Python. A query whose reply was kept
is answered from the thread with the client's ID spliced in while the reply's two leases
(route and answer) are alive; any other is handed to the event loop (``call_soon_threadsafe``), where ``dispatch.handle`` runs the chain. The
thread touches nothing but the socket and the listener's replay table.

When nothing can replay (a ``log``, ``acl`` or ``autopath`` in every block), the hand-over
would only add a thread switch per query, so the event loop reads the socket itself
(``add_reader``, a batch per wake-up). A reload that changes this switches the mode.

Datagrams are read into one preallocated buffer (a datagram transport reads each into
256 KiB, measured 3x slower), and on a wildcard bind the reply leaves from the address
the query was sent to (IP_PKTINFO / IPV6_PKTINFO), which transports cannot do. Without
that, a host with several addresses answers from whichever one routing picks and
clients drop the reply as coming from an unexpected source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

from kdns import replay, wire
from kdns.request import UDP, Request
from kdns.server import dispatch, inflight
from kdns.server.zones import Route, ZoneTable

if TYPE_CHECKING:
    from collections.abc import Awaitable

log = logging.getLogger("kdns.server")

#: Datagrams the event loop reads per wake-up before yielding, so one busy socket cannot
#: starve TCP clients or timers.
BATCH = 64
#: Larger datagrams are cut (and then fail to parse); no DNS query is this big.
MAX_DATAGRAM = 65535
#: Pause after a failed read in the reader thread, so a repeating error cannot spin a core.
READ_ERROR_PAUSE = 0.01
_IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_NOWAIT = socket.MSG_DONTWAIT
#: A datagram's ancillary data as ``recvmsg`` gives it (the address a query arrived at).
Ancillary = list[tuple[int, int, bytes]]


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


class UDPListener:
    def __init__(self, table: ZoneTable, host: str, port: int) -> None:
        self._table = table
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The reader thread and the event that asks it to stop, while one runs.
        self._reader: tuple[threading.Thread, threading.Event] | None = None
        self._stopped: list[threading.Thread] = []
        self._loop_reading = False
        self._pktinfo = is_wildcard(host)
        self._view = memoryview(bytearray(MAX_DATAGRAM))
        #: Replies kept for queries asked again; forgotten when the table changes.
        self.replies = replay.Table()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def table(self) -> ZoneTable:
        return self._table

    @table.setter
    def table(self, table: ZoneTable) -> None:
        self._table = table
        self.replies.clear()
        if self._sock is not None:
            self._read_as_table_needs()

    @property
    def address(self) -> tuple[str, int]:
        assert self._sock is not None
        address: tuple[str, int] = self._sock.getsockname()[:2]
        return address

    @property
    def threaded(self) -> bool:
        """True while a reader thread reads the socket (some route may replay)."""
        return self._reader is not None

    def open(self) -> None:
        """Bind and start reading."""
        sock = _bind(self.host, self.port, pktinfo=self._pktinfo)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._read_as_table_needs()

    def _read_as_table_needs(self) -> None:
        sock = self._sock
        assert sock is not None and self._loop is not None
        if self._table.replays and self._reader is None:
            if self._loop_reading:
                self._loop.remove_reader(sock.fileno())
                self._loop_reading = False
            stop = threading.Event()
            thread = threading.Thread(
                target=self._read,
                args=(sock, stop),
                name=f"udp-{self.host}:{self.port}",
                daemon=True,
            )
            self._reader = (thread, stop)
            thread.start()
        elif not self._table.replays and not self._loop_reading:
            self._loop.add_reader(sock.fileno(), self._readable)
            self._loop_reading = True
            if self._reader is not None:
                self._detach_reader()
                self._wake_reader()

    def _detach_reader(self) -> None:
        """Ask the reader thread to stop. Until it does it still hands datagrams to the
        loop, so none is lost."""
        assert self._reader is not None
        thread, stop = self._reader
        self._reader = None
        self._stopped.append(thread)
        stop.set()

    def _wake_reader(self) -> None:
        """An empty datagram of our own, so a reader blocked in recvfrom sees its stop."""
        assert self._sock is not None
        host, port = self._sock.getsockname()[:2]
        if is_wildcard(host):
            host = "::1" if self._sock.family == socket.AF_INET6 else "127.0.0.1"
        with (
            socket.socket(self._sock.family, socket.SOCK_DGRAM) as waker,
            contextlib.suppress(OSError),
        ):
            waker.sendto(b"", (host, port))

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop reading, let replies still being worked out go out (up to ``grace`` seconds),
        cancel the rest and wait for them, then close."""
        sock = self._sock
        if sock is None:
            return
        if self._loop_reading and self._loop is not None:
            self._loop.remove_reader(sock.fileno())
            self._loop_reading = False
        if self._reader is not None:
            self._detach_reader()
        if self._stopped:
            # Wakes a reader from recvfrom (Linux returns an empty read; the call itself says
            # ENOTCONN on an unconnected socket). Replies can still be sent.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
            for thread in self._stopped:
                await asyncio.to_thread(thread.join, 5)
            self._stopped.clear()
        await asyncio.sleep(0)  # queries a reader handed over run now
        await inflight.finish(self._tasks, grace=grace)
        self._sock = None
        self.replies.clear()
        sock.close()

    def _read(self, sock: socket.socket, stop: threading.Event) -> None:
        """The reader thread. A failure of its own is logged and reading goes on: a dead
        reader would leave the socket open and every client unanswered."""
        while True:
            try:
                self._read_until_stopped(sock, stop)
                return
            except Exception:
                log.exception("udp reader on %s:%s failed; reading on", self.host, self.port)
                time.sleep(READ_ERROR_PAUSE)

    def _read_until_stopped(self, sock: socket.socket, stop: threading.Event) -> None:
        """Replay what is kept, hand the rest to the event loop."""
        loop = self._loop
        assert loop is not None
        schedule = loop.call_soon_threadsafe
        kept = self.replies.get
        turn = self.replies.get_turn
        serve = self._serve
        send = self._send
        stopping = stop.is_set
        pktinfo = self._pktinfo
        clock = time.perf_counter
        view = memoryview(bytearray(MAX_DATAGRAM))
        ancdata: Ancillary | None = None
        while True:
            try:
                if pktinfo:
                    n, ancdata, _flags, addr = sock.recvmsg_into([view], 64)
                else:
                    n, addr = sock.recvfrom_into(view)
            except OSError as err:
                if stopping():
                    return
                log.debug("udp read on %s:%s: %s", self.host, self.port, err)
                time.sleep(READ_ERROR_PAUSE)
                continue
            if addr is None:  # woken by shutdown
                return
            data = bytes(view[:n])
            found = None if stopping() else kept(data[2:])
            if found is not None and found[2].alive and found[3].alive:
                tail = found[0]
                count = found[1]
                gating = found[4]
            else:
                turned = None if found is not None or stopping() else turn(data[2:])
                if turned is None or not (turned[2].alive and turned[3].alive):
                    try:
                        schedule(serve, data, addr, ancdata)
                    except RuntimeError:  # the loop is closed: the server is going away
                        return
                    if stopping():
                        return
                    continue
                tail = turned[0].next()
                count = turned[1]
                gating = turned[4]
            if gating is not None:
                verdict = gating[0](addr)
                if verdict:
                    if verdict == replay.DROP:
                        continue
                    tail = gating[1]
            if count is None:
                send(data[:2] + tail, addr, ancdata)
            else:
                start = clock()
                send(data[:2] + tail, addr, ancdata)
                count(clock() - start)

    def _readable(self) -> None:
        """The event loop's reader, when nothing can replay: a batch per wake-up."""
        sock = self._sock
        if sock is None:
            return
        view = self._view
        ancdata: Ancillary | None = None
        for _ in range(BATCH):
            try:
                if self._pktinfo:
                    n, ancdata, _flags, addr = sock.recvmsg_into([view], 64, _NOWAIT)
                else:
                    n, addr = sock.recvfrom_into(view, 0, _NOWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log.debug("udp read on %s:%s: %s", self.host, self.port, err)
                return
            self._serve(bytes(view[:n]), addr, ancdata)

    def _serve(self, data: bytes, addr: tuple[str, int], ancdata: Ancillary | None) -> None:
        """In the event loop: run the chain for one datagram."""
        reply = dispatch.handle(self._table, data, UDP, addr, self._keep)
        if reply is None:
            return
        if isinstance(reply, bytes):
            self._send(reply, addr, ancdata)
        else:
            task = asyncio.ensure_future(self._send_later(reply, addr, ancdata))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _keep(
        self, req: Request, route: Route, answer: wire.Answer, reply: bytes, query: bytes
    ) -> None:
        """Keep ``reply`` for the datagram ``query`` as the client sent it (a plugin such as
        ``header`` may have changed ``req.data`` on the way)."""
        assert route.lease is not None and answer.lease is not None
        if len(query) > replay.MAX_KEY or len(reply) > replay.MAX_REPLY:
            return
        route_lease = route.lease.current()
        if route_lease is None or not answer.lease.alive:
            return
        counter = route.counter
        count = None if counter is None else counter.replay_counter(req, answer, len(reply))
        gating = None
        if route.gate is not None:
            gate = route.gate.replay_gate(req, answer)
            if gate is not None:
                gating = (gate, wire.finalize(req, replay.slipped(answer), req.size)[2:])
        if answer.rotation is None:
            self.replies.put(query, reply, count, route_lease, answer.lease, gating)
            return
        turn = [wire.finalize(req, variant, req.size) for variant in answer.rotation]
        self.replies.put_turn(query, turn, count, route_lease, answer.lease, gating)

    async def _send_later(
        self, pending: Awaitable[bytes | None], addr: tuple[str, int], ancdata: Ancillary | None
    ) -> None:
        reply = await pending
        if reply is not None:
            self._send(reply, addr, ancdata)

    def _send(self, reply: bytes, addr: tuple[str, int], ancdata: Ancillary | None) -> None:
        """Send without blocking (from either thread); a full send buffer drops the reply."""
        sock = self._sock
        if sock is None:
            return
        try:
            if ancdata:
                sock.sendmsg([reply], _reply_cmsg(ancdata), _NOWAIT, addr)
            else:
                sock.sendto(reply, _NOWAIT, addr)
        except (BlockingIOError, InterruptedError):
            log.debug("udp send buffer full, reply to %s dropped", addr)
        except OSError as err:
            log.debug("udp send to %s: %s", addr, err)


def _reply_cmsg(ancdata: Ancillary) -> Ancillary:
    """Ancillary data that makes the reply leave from the address the query arrived at."""
    out = []
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(data) >= 12:
            _ifindex, _spec, dest = struct.unpack("=I4s4s", data[:12])
            out.append((level, kind, struct.pack("=I4s4s", 0, dest, b"\x00" * 4)))
        elif level == socket.IPPROTO_IPV6 and kind == _IPV6_PKTINFO:
            out.append((level, kind, data))
    return out


def _bind(host: str, port: int, *, pktinfo: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # As CoreDNS: a wildcard block and a bound block may share a port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if pktinfo:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock

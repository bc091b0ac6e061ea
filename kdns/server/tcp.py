"""TCP listener: RFC 7766 framing, pipelining, backpressure, deadlines, bounded connections.

Each complete message is handled as soon as it is framed; replies are written
as they complete, so a slow upstream answer never holds back a local one on the
same connection.

What one client can make kdns hold is bounded, whatever it sends or fails to read:

- input: at most one whole message (2 + 65535 bytes) per connection. A framed query is
  dispatched only while fewer than ``MAX_PENDING`` replies are in flight and the transport's
  write buffer is below its high-water mark; otherwise it waits in the buffer and reading stops.
- output: the write buffer holds at most its high-water mark plus the replies still in flight;
  a reply not written within the ``write`` timeout closes the connection.
- time: a query must arrive whole within ``read`` of its first byte (the first query of a
  connection within ``read`` of the connection's start, as CoreDNS); a connection with nothing
  in flight closes after ``idle``.
- slots: ``max_connections`` per listener; when they are all taken the connection idle longest
  is closed for the new one, and one source address holds at most ``per_source`` of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from dataclasses import dataclass
from typing import cast

from kdns import metrics
from kdns.request import TCP
from kdns.server import dispatch, inflight
from kdns.server.zones import ZoneTable

log = logging.getLogger("kdns.server")

MAX_CONNECTIONS = 1000
#: Replies in flight on one connection; further framed queries wait in the input buffer.
MAX_PENDING = 128
#: The input buffer of a connection: one message of the largest size and its length prefix.
MAX_INPUT = 2 + 0xFFFF
#: Reply bytes a connection may hold unsent. Reading stops at the transport's high-water mark,
#: but replies already in flight still complete into the buffer (up to MAX_PENDING of up to
#: 64 KiB each); a client that lets them pile up past this is not reading, and is cut off.
MAX_WRITE_BUFFER = 256 << 10


@dataclass(frozen=True)
class Timeouts:
    """CoreDNS's ``timeouts`` settings and defaults (``core/dnsserver/server.go``), in seconds."""

    read: float = 3.0
    write: float = 5.0
    idle: float = 10.0
    #: Queries answered on one connection before it is closed; -1 is no limit.
    maxtcpqueries: int = -1


def per_source_share(max_connections: int) -> int:
    """Connections one source address may hold: an eighth of the slots, at least 16."""
    return max(16, max_connections // 8)


class TCPListener:
    def __init__(
        self,
        table: ZoneTable,
        host: str,
        port: int,
        *,
        timeouts: Timeouts | None = None,
        max_connections: int = MAX_CONNECTIONS,
        label: str = "",
    ) -> None:
        self.table = table
        self.host = host
        self.port = port
        self.timeouts = timeouts or Timeouts()
        self.max_connections = max_connections
        self.per_source = per_source_share(max_connections)
        #: The ``server`` label of ``kdns_tcp_connections``.
        self.label = label
        #: Open connections, oldest first.
        self.connections: dict[_Connection, None] = {}
        #: Connections with nothing in flight and nothing half read, idle longest first.
        self.idle: dict[_Connection, None] = {}
        self.by_source: dict[str, int] = {}
        #: Where every connection of this listener reads into (one read at a time per loop).
        self.scratch = memoryview(bytearray(MAX_INPUT))
        self._server: asyncio.Server | None = None

    async def open(self, sock: socket.socket | None = None) -> None:
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._connection, sock=sock)
        else:
            self._server = await loop.create_server(
                self._connection,
                self.host or None,
                self.port,
                reuse_address=True,
                reuse_port=True,
                backlog=1024,
            )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def sockets(self) -> list[object]:
        return list(self._server.sockets) if self._server else []

    def _connection(self) -> _Connection:
        return _Connection(self)

    def admit(self, conn: _Connection) -> bool:
        """Take ``conn`` into the table, closing the connection idle longest if it is full."""
        source = conn.peer[0]
        held = self.by_source.get(source, 0)
        if held >= self.per_source:
            return False
        if len(self.connections) >= self.max_connections:
            oldest = next(iter(self.idle), None)
            if oldest is None:
                return False
            oldest.abort()
        self.connections[conn] = None
        self.by_source[source] = held + 1
        metrics.TCP_CONNECTIONS.inc((self.label,), 1)
        return True

    def forget(self, conn: _Connection) -> None:
        if conn not in self.connections:
            return
        del self.connections[conn]
        self.idle.pop(conn, None)
        source = conn.peer[0]
        held = self.by_source.get(source, 0) - 1
        if held > 0:
            self.by_source[source] = held
        else:
            self.by_source.pop(source, None)
        metrics.TCP_CONNECTIONS.inc((self.label,), -1)

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight queries finish (up to ``grace``), abort the rest and
        wait for their queries to end.

        Never raises: a shutdown or reload goes on whatever the clients do.
        """
        if self._server is not None:
            self._server.close()
        busy = list(self.connections)
        if busy and grace > 0:
            drains = [asyncio.ensure_future(conn.drain()) for conn in busy]
            late = await inflight.finish(drains, grace=grace)
            if late:
                log.warning(
                    "TCP %s:%d: %d connections still busy after %.1fs, aborted",
                    self.host,
                    self.port,
                    late,
                    grace,
                )
        unanswered = [task for conn in self.connections for task in conn.pending]
        for conn in list(self.connections):
            conn.abort()
        await inflight.finish(unanswered, grace=0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)


class _Connection(asyncio.BufferedProtocol):
    def __init__(self, listener: TCPListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.peer: tuple[str, int] = ("", 0)
        self.pending: set[asyncio.Future[bytes | None]] = set()
        self.reading = True
        self.paused_writing = False
        #: Answer what is in flight, dispatch nothing more, then close (shutdown, reload).
        self.draining = False
        #: The client has sent all it will: answer what it sent, then close.
        self.eof = False
        #: A query was read: the deadline while quiet is ``idle`` from then on, not ``read``.
        self.answered = False
        self.queries = 0
        #: When the current quiet spell or half-read query began.
        self.since = 0.0
        self.is_idle = False
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = math.inf
        self.write_timer: asyncio.TimerHandle | None = None
        #: Bytes handed to the transport, and the count that must be sent before the write timer.
        self.written = 0
        self.write_target = 0

    # --- connection table -----------------------------------------------------------------

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # A stream server's transport; uvloop's do not subclass asyncio.Transport, so no isinstance.
        transport = cast(asyncio.Transport, base)
        peer = transport.get_extra_info("peername")
        if not peer:
            # Reset before it was accepted (getpeername failed): nobody to answer, and
            # plugins (whoami, log, acl) must never see a query without a client address.
            transport.abort()
            return
        self.peer = (peer[0], peer[1])
        if not self.listener.admit(self):
            transport.abort()
            return
        self.transport = transport
        self.since = asyncio.get_running_loop().time()
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.forget(self)
        self.transport = None
        for timer in (self.timer, self.write_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.write_timer = None
        for task in self.pending:
            task.cancel()
        self.buffer = bytearray()

    def abort(self) -> None:
        """Close at once (RST), leaving the table now rather than when the loop reports it."""
        transport = self.transport
        self.listener.forget(self)
        if transport is not None:
            transport.abort()

    async def drain(self) -> None:
        """Answer what is in flight, read nothing more, then close."""
        self.draining = True
        self._set_reading(False)
        if self.pending:
            await asyncio.wait(set(self.pending))
        if self.transport is not None:
            self.transport.close()

    # --- reading --------------------------------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        # Never more than fits the input buffer: reading stops before it is full.
        return self.listener.scratch[: max(1, MAX_INPUT - len(self.buffer))]

    def buffer_updated(self, nbytes: int) -> None:
        if self.transport is None:
            return  # refused in connection_made
        if not self.buffer and self.answered:
            self.since = asyncio.get_running_loop().time()  # a new query's first byte
        self.buffer += self.listener.scratch[:nbytes]
        self._process()

    def eof_received(self) -> bool:
        self.eof = True
        self.reading = False  # the transport reads no more by itself
        self._update()
        return True

    def _process(self) -> None:
        """Dispatch the framed queries the limits allow, then set reading and deadlines."""
        buf = self.buffer
        size = len(buf)
        offset = 0
        blocked = False
        while size - offset >= 2 and not self.draining:
            end = offset + 2 + ((buf[offset] << 8) | buf[offset + 1])
            if end > size:
                break
            if self.paused_writing or len(self.pending) >= MAX_PENDING:
                blocked = True
                break
            message = bytes(buf[offset + 2 : end])
            offset = end
            self.answered = True
            self.queries += 1
            if self.queries == self.listener.timeouts.maxtcpqueries:
                self.draining = True  # this one is the last
            self._handle(message)
            if self.transport is None:
                return
        if offset:
            del buf[:offset]
            if buf:
                self.since = asyncio.get_running_loop().time()  # the next query's first byte
        self._update(blocked)

    def _update(self, blocked: bool = False) -> None:
        """Reading on or off, idle-table membership and the deadline, for the state as it is."""
        if self.transport is None:
            return
        if self.reading:
            if blocked or self.draining or self.paused_writing or len(self.pending) >= MAX_PENDING:
                self._set_reading(False)
        elif not (blocked or self.draining or self.paused_writing) and (
            len(self.pending) <= MAX_PENDING // 2
        ):
            self._set_reading(True)
        finished = self.draining or (self.eof and not self._framed())
        if finished and not self.pending:
            self.transport.close()  # after what is written has been sent
            return
        quiet = not self.pending and not self.buffer
        if quiet != self.is_idle:
            self.is_idle = quiet
            if quiet:
                self.listener.idle[self] = None
                if self.answered:
                    self.since = asyncio.get_running_loop().time()
            else:
                self.listener.idle.pop(self, None)
        self._schedule()

    def _framed(self) -> bool:
        """The input buffer holds a whole query."""
        buf = self.buffer
        return len(buf) >= 2 and len(buf) >= 2 + ((buf[0] << 8) | buf[1])

    def _set_reading(self, on: bool) -> None:
        if on == self.reading or self.eof or self.transport is None:
            return
        self.reading = on
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    # --- deadlines ------------------------------------------------------------------------

    def _deadline(self) -> float:
        """When the client's time runs out as things stand; never while kdns owes it a reply."""
        if self.pending or not self.reading:
            return math.inf
        timeouts = self.listener.timeouts
        if self.buffer or not self.answered:
            return self.since + timeouts.read
        return self.since + timeouts.idle

    def _schedule(self) -> None:
        deadline = self._deadline()
        if deadline >= self.timer_at:
            return  # the armed timer fires first and looks again
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = deadline
        self.timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.timer_at = math.inf
        transport = self.transport
        if transport is None:
            return
        if asyncio.get_running_loop().time() < self._deadline():
            self._schedule()
            return
        if self.buffer:
            log.debug("TCP %s:%d: query not read whole in time, closed", *self.peer)
        if transport.get_write_buffer_size():
            self.abort()
        else:
            transport.close()

    # --- writing --------------------------------------------------------------------------

    def _handle(self, message: bytes) -> None:
        reply = dispatch.handle(self.listener.table, message, TCP, self.peer)
        if reply is None:
            return
        if isinstance(reply, bytes):
            self._write(reply)
            return
        task = asyncio.ensure_future(reply)
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[bytes | None]) -> None:
        self.pending.discard(task)
        if self.transport is None or task.cancelled():
            return
        reply = task.result()  # dispatch turns every failure into a reply
        if reply is not None:
            self._write(reply)
        self._process()

    def _write(self, reply: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(len(reply).to_bytes(2, "big") + reply)
        self.written += 2 + len(reply)
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.debug("tcp client %s does not read its replies; closing", self.peer)
            self.abort()
            return
        if self.write_timer is None and transport.get_write_buffer_size():
            self._arm_write_timer()

    def _arm_write_timer(self) -> None:
        self.write_target = self.written
        self.write_timer = asyncio.get_running_loop().call_later(
            self.listener.timeouts.write, self._on_write_timer
        )

    def _on_write_timer(self) -> None:
        """Every reply queued when the timer was armed must be sent by now."""
        self.write_timer = None
        transport = self.transport
        if transport is None:
            return
        unsent = transport.get_write_buffer_size()
        if not unsent:
            return
        if self.written - unsent < self.write_target:
            log.debug("TCP %s:%d: replies not read in time, closed", *self.peer)
            self.abort()
            return
        self._arm_write_timer()

    def pause_writing(self) -> None:
        self.paused_writing = True
        self._set_reading(False)

    def resume_writing(self) -> None:
        self.paused_writing = False
        if self.transport is not None:
            self._process()

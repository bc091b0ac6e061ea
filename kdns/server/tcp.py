"""TCP listener: RFC 7766 framing, pipelining, idle timeout, bounded connections.

Each complete message is handled as soon as it is framed; replies are written
as they complete, so a slow upstream answer never holds back a local one on the
same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from kdns.request import TCP
from kdns.server import dispatch
from kdns.server.zones import ZoneTable

log = logging.getLogger("kdns.server")

#: CoreDNS's ``timeouts`` defaults: idle connections close after 10 s.
IDLE_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000
#: Replies pending on one connection before kdns stops reading from it.
MAX_PENDING = 128
#: A connection holding part of a query but sending nothing more for this long is closed:
#: RFC 7766 says not to cut a query mid-read, but a stalled client must not pin a connection.
MAX_STALL = 3 * IDLE_TIMEOUT


class TCPListener:
    def __init__(
        self,
        table: ZoneTable,
        host: str,
        port: int,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.table = table
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None

    async def open(self, sock: object = None) -> None:
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._connection, sock=sock)  # type: ignore[arg-type]
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

    async def close(self, *, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight queries finish (up to ``grace``), then close."""
        if self._server is not None:
            self._server.close()
        pending = [c.drain() for c in list(self.connections)]
        if pending:
            await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), grace)
        for conn in list(self.connections):
            conn.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    def __init__(self, listener: TCPListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.peer: tuple[str, int] = ("", 0)
        self.pending: set[asyncio.Task[None]] = set()
        self.idle: asyncio.TimerHandle | None = None
        self.last_data = 0.0
        self.paused_writing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        listener = self.listener
        if len(listener.connections) >= listener.max_connections:
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        if not peer:
            # Reset before it was accepted (getpeername failed): nobody to answer, and
            # plugins (whoami, log, acl) must never see a query without a client address.
            transport.abort()
            return
        listener.connections.add(self)
        self.peer = (peer[0], peer[1])
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()
        for task in self.pending:
            task.cancel()
        self.transport = None

    def _arm(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        loop = asyncio.get_running_loop()
        self.idle = loop.call_later(self.listener.idle_timeout, self._on_idle)

    def _on_idle(self) -> None:
        # Never cut a connection with a reply pending, nor one with a query half read unless
        # the client has stalled mid-message for MAX_STALL (RFC 7766 6.2.3).
        stalled = asyncio.get_running_loop().time() - self.last_data >= MAX_STALL
        if self.pending or (self.buffer and not stalled):
            self._arm()
            return
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # aborted in connection_made (over the limit, or already reset)
        buf = self.buffer
        buf += data
        self.last_data = asyncio.get_running_loop().time()
        self._arm()
        while len(buf) >= 2:
            (length,) = struct.unpack_from("!H", buf)
            if len(buf) < 2 + length:
                break
            message = bytes(buf[2 : 2 + length])
            del buf[: 2 + length]
            self._handle(message)
        if len(self.pending) >= MAX_PENDING and self.transport is not None:
            self.transport.pause_reading()

    def _handle(self, message: bytes) -> None:
        reply = dispatch.handle(self.listener.table, message, TCP, self.peer)
        if reply is None:
            return
        if type(reply) is bytes:
            self._write(reply)
            return
        task = asyncio.ensure_future(self._write_later(reply))  # type: ignore[arg-type]
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.pending.discard(task)
        if self.transport is not None and len(self.pending) < MAX_PENDING // 2:
            self.transport.resume_reading()

    async def _write_later(self, pending: dispatch.Reply) -> None:
        reply = await pending  # type: ignore[misc]
        if reply is not None:
            self._write(reply)

    def _write(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(len(reply).to_bytes(2, "big") + reply)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    async def drain(self) -> None:
        if self.pending:
            await asyncio.wait(self.pending)
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

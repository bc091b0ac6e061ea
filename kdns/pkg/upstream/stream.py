"""TCP and TLS to an upstream: connections kept per upstream, a bounded number of them.

A `Pool` holds at most `limits.TCP_PER_UPSTREAM` connections to one upstream over one transport
and reuses them, as CoreDNS keeps persistent connections: a query takes an idle connection (the
most recently used, so that the others age past ``expire`` and close when traffic drops), else
opens a new one while under the cap, else is pipelined (RFC 7766 section 6.2.1.1) on the least busy
connection, up to `limits.PIPELINE` queries each; past that it waits for a free slot at most
`limits.QUEUE_WAIT` seconds (`errors.Busy`). A connection idle for longer than ``expire`` is
closed.

Each query on a connection carries a random ID not in use on it, and its reply is matched by ID
and question (`message.check`), so replies may come back in any order. A connection on which a
query timed out takes no new queries and closes once the others are done. When the upstream
closes a connection, the queries it carried fail with `errors.CachedClosed` if the connection had
served a query before them (the caller retries on another one), with the closing error otherwise.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import cast

from kdns.pkg.upstream import errors, limits, message
from kdns.pkg.upstream.endpoint import TCP, TLS, Address, Reply, local_name
from kdns.pkg.upstream.metrics import METRICS

#: Retries of one query after the connection it was sent on turned out to be closed.
MAX_RETRIES = 2


class _Pending:
    __slots__ = ("cached", "qid", "question", "waiter")

    def __init__(
        self, qid: int, question: bytes, waiter: asyncio.Future[Reply], cached: bool
    ) -> None:
        self.qid = qid
        self.question = question
        self.waiter = waiter
        self.cached = cached


class StreamConn(asyncio.Protocol):
    """One TCP or TLS connection to an upstream; the queries in flight on it, by ID."""

    def __init__(self, addr: Address, proto: str) -> None:
        self.addr = addr
        self.proto = proto
        self.transport: asyncio.Transport | None = None
        self.local = "?"
        self.pending: dict[int, _Pending] = {}
        #: When it last had no query in flight.
        self.used = time.monotonic()
        #: Queries sent on it so far.
        self.sent = 0
        #: Takes no new query (one timed out on it); closes once the others are done.
        self.retired = False
        self._closed = False
        self._buffer = bytearray()
        self._key = (addr, proto)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle(self) -> bool:
        return not self.pending

    @property
    def usable(self) -> bool:
        return not self._closed and not self.retired

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport; uvloop's do not subclass asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        sockets = METRICS.sockets
        sockets[self._key] = sockets.get(self._key, 0) + 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.local = local_name(sock)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pending = self.pending
        size = len(buf)
        pos = 0
        while size - pos >= 2:
            end = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
            if end > size:
                break
            reply = bytes(buf[pos + 2 : end])
            pos = end
            if len(reply) < 2:
                continue
            entry = pending.get((reply[0] << 8) | reply[1])
            if entry is None:
                continue  # a late reply to a query that gave up
            verdict = message.check(reply, entry.qid, entry.question)
            if verdict is message.Verdict.IGNORE:
                continue
            del pending[entry.qid]
            if not entry.waiter.done():
                entry.waiter.set_result(Reply(reply, verdict))
        if pos:
            del buf[:pos]

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            METRICS.sockets[self._key] -= 1
        self._closed = True
        self.transport = None
        self._buffer.clear()
        pending, self.pending = self.pending, {}
        for entry in pending.values():
            if entry.waiter.done():
                continue
            if entry.cached:
                entry.waiter.set_exception(errors.CachedClosed())
            else:
                entry.waiter.set_exception(self._lost(exc))

    def _lost(self, exc: Exception | None) -> errors.UpstreamError:
        if exc is None:
            return errors.UpstreamError("EOF")
        reason = getattr(exc, "strerror", None) or str(exc)
        # Go names TLS connections "tcp" in its errors too.
        return errors.UpstreamError(f"read tcp {self.local}->{self.addr}: {reason}")

    # --- queries -------------------------------------------------------------------------------

    async def exchange(self, template: bytes, *, timeout: float, cached: bool) -> Reply:
        """Send the query ``template`` (no ID) and wait for the reply with its ID and question.

        :raises errors.CachedClosed: if the connection is (or gets) closed and ``cached``.
        :raises errors.Timeout: when no reply came within ``timeout`` seconds.
        """
        transport = self.transport
        if transport is None or self._closed:
            if cached:
                raise errors.CachedClosed()
            raise errors.UpstreamError("EOF")
        pending = self.pending
        qid = message.random_id()
        while qid in pending:
            qid = message.random_id()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Reply] = loop.create_future()
        entry = _Pending(qid, message.question_of(template), waiter, cached)
        pending[qid] = entry
        self.sent += 1
        query = message.with_id(qid, template)
        transport.write(len(query).to_bytes(2, "big") + query)
        timer = loop.call_later(timeout, self._expire, entry)
        try:
            return await waiter
        finally:
            timer.cancel()
            if pending.get(qid) is entry:
                del pending[qid]
            if not self.pending:
                self.used = time.monotonic()
                if self.retired:
                    self.close()

    def _expire(self, entry: _Pending) -> None:
        if entry.waiter.done():
            return
        self.retired = True
        entry.waiter.set_exception(
            errors.Timeout(f"read tcp {self.local}->{self.addr}: i/o timeout")
        )

    def close(self) -> None:
        self._closed = True
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()


async def connect(
    addr: Address,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
) -> StreamConn:
    """Open a TCP connection (TLS when ``tls`` is given) to ``addr`` within ``timeout``.

    :raises errors.Exhausted: when no socket could be opened.
    :raises errors.UpstreamError: worded as Go's dialer words it.
    """
    proto = TLS if tls is not None else TCP
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            _transport, conn = await loop.create_connection(
                lambda: StreamConn(addr, proto),
                addr.host,
                addr.port,
                ssl=tls,
                server_hostname=(server_name or addr.host) if tls is not None else None,
            )
    except TimeoutError:
        raise errors.Timeout(f"dial tcp {addr}: i/o timeout") from None
    except ConnectionRefusedError:
        raise errors.Refused(f"dial tcp {addr}: connect: connection refused") from None
    except ssl.SSLCertVerificationError as err:
        raise errors.UpstreamError(
            f"tls {addr}: failed to verify certificate: {err.verify_message}"
        ) from None
    except ssl.SSLError as err:
        raise errors.UpstreamError(f"tls {addr}: {err.reason or err}") from None
    except OSError as err:
        if err.errno in limits.OUT_OF_RESOURCES:
            raise limits.exhausted(err, f"tcp {addr}") from None
        raise errors.UpstreamError(f"dial tcp {addr}: {err.strerror or err}") from None
    return conn


Opener = Callable[[float], Awaitable[StreamConn]]


class Pool:
    """The connections to one upstream over one transport: at most ``limit``, reused."""

    def __init__(
        self,
        expire: float,
        *,
        limit: int = limits.TCP_PER_UPSTREAM,
        pipeline: int = limits.PIPELINE,
    ) -> None:
        self.expire = expire
        self.limit = limit
        self.pipeline = pipeline
        self.conns: list[StreamConn] = []
        #: Connections being opened, counted against ``limit``.
        self.opening = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def __len__(self) -> int:
        """Connections open (or being opened)."""
        return sum(1 for conn in self.conns if not conn.closed) + self.opening

    async def exchange(
        self, open_conn: Opener, template: bytes, *, timeout: float, key: tuple[str, str, str]
    ) -> Reply:
        """Send ``template`` on a connection of the pool, opening one with ``open_conn``
        (given the seconds left) when that is what the pool needs.

        :raises errors.UpstreamError: as `StreamConn.exchange` and `connect` raise; `errors.Busy`
            when no connection had room for the query within `limits.QUEUE_WAIT`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        retries = 0
        while True:
            conn = await self._acquire(open_conn, deadline, key)
            cached = conn.sent > 0
            try:
                return await conn.exchange(
                    template, timeout=max(deadline - loop.time(), 0.001), cached=cached
                )
            except errors.CachedClosed:
                retries += 1
                if retries > MAX_RETRIES or deadline <= loop.time():
                    raise errors.UpstreamError("EOF") from None
            finally:
                self._release(conn)

    async def _acquire(
        self, open_conn: Opener, deadline: float, key: tuple[str, str, str]
    ) -> StreamConn:
        loop = asyncio.get_running_loop()
        wait_until = min(deadline, loop.time() + limits.QUEUE_WAIT)
        while True:
            conn = self._idle() or (None if self._can_open() else self._least_busy())
            if conn is not None:
                METRICS.conn_cache_hits[key] += 1
                self._pass_on()
                return conn
            if self._can_open():
                METRICS.conn_cache_misses[key] += 1
                conn = await self._open(open_conn, max(deadline - loop.time(), 0.001))
                self._pass_on()
                return conn
            await self._wait(wait_until - loop.time(), key[1])

    def _can_open(self) -> bool:
        return len(self.conns) + self.opening < self.limit

    def _pass_on(self) -> None:
        """Wake the next waiter if there may be room for it too: waiters are woken one at a
        time, each waking the next, so a burst never wakes thousands to find one slot."""
        if self._waiters and (
            self._can_open() or any(c.usable and len(c.pending) < self.pipeline for c in self.conns)
        ):
            self._wake_one()

    def _idle(self) -> StreamConn | None:
        """The most recently used idle connection; closed and expired ones are dropped."""
        now = time.monotonic()
        best: StreamConn | None = None
        keep: list[StreamConn] = []
        for conn in self.conns:
            if conn.closed:
                continue
            if conn.idle and (conn.retired or now - conn.used > self.expire):
                conn.close()
                continue
            keep.append(conn)
            if conn.idle and (best is None or conn.used >= best.used):
                best = conn
        self.conns = keep
        return best

    def _least_busy(self) -> StreamConn | None:
        best: StreamConn | None = None
        for conn in self.conns:
            load = len(conn.pending)
            if conn.usable and load < self.pipeline and (best is None or load < len(best.pending)):
                best = conn
        return best

    async def _open(self, open_conn: Opener, timeout: float) -> StreamConn:
        self.opening += 1
        try:
            conn = await open_conn(timeout)
        except BaseException:
            self._wake_one()  # the slot it held is free again
            raise
        finally:
            self.opening -= 1
        self.conns.append(conn)
        return conn

    async def _wait(self, wait: float, to: str) -> None:
        if wait <= 0:
            raise errors.Busy(f"tcp {to}")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(wait, limits._give_up, waiter, f"tcp {to}")
        try:
            await waiter
        finally:
            timer.cancel()

    def _release(self, conn: StreamConn) -> None:
        """A query is done with ``conn``: close it if it is done for, wake one waiter."""
        if conn.idle and (self._closed or self.expire <= 0):
            conn.close()
        if conn.closed:
            with contextlib.suppress(ValueError):
                self.conns.remove(conn)
        elif conn.idle and self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(self.expire, self._sweep)
        self._wake_one()

    def _wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _sweep(self) -> None:
        """Close connections idle for longer than ``expire``."""
        self._timer = None
        self._idle()
        now = time.monotonic()
        idle = [conn.used for conn in self.conns if conn.idle]
        if self.conns:
            wait = min(idle) + self.expire - now if idle else self.expire
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(wait, 0.05), self._sweep)

    def close(self) -> None:
        """Close idle connections now and the others once their queries are done."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for conn in self.conns:
            if conn.idle:
                conn.close()
        self.conns = [conn for conn in self.conns if not conn.closed]

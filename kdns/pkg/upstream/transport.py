"""One exchange with an upstream: over UDP on a fresh socket, or over a pooled TCP/TLS connection.

UDP: every query gets its own socket, bound to a fresh random port (`ports`) and connected to the
upstream, so the kernel itself drops datagrams from any other address or port, and an ICMP "port
unreachable" surfaces as "connection refused" at once instead of a timeout. Replies that carry
another ID or question are ignored and the wait goes on until the timeout.

TCP and TLS: connections are kept in a per-upstream pool and reused for later queries, one query
at a time per connection, like CoreDNS's persistent connections. A connection idle for longer
than ``expire`` is closed instead of reused. A pooled connection that the upstream closed in the
meantime is reported as `errors.CachedClosed`, so the caller can retry on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import time
from dataclasses import dataclass

from kdns.pkg.upstream import errors, message
from kdns.pkg.upstream.ports import PORTS

UDP = "udp"
TCP = "tcp"
TLS = "tcp-tls"

#: Largest datagram read; an upstream may answer a non-EDNS query with more than 512 bytes.
MAX_DATAGRAM = 65535


@dataclass(frozen=True, slots=True)
class Address:
    """Where an upstream listens."""

    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def __str__(self) -> str:
        return errors.address(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply that passed `message.check`."""

    data: bytes
    verdict: message.Verdict


def _local(sock: socket.socket) -> str:
    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return "?"
    return errors.address(host, port)


async def exchange_udp(addr: Address, template: bytes, *, timeout: float) -> Reply:
    """Send the query ``template`` (no ID) to ``addr`` over UDP and wait for its reply.

    :raises errors.Timeout: when no matching reply arrives within ``timeout`` seconds.
    :raises errors.Refused: when the upstream's port is closed.
    :raises errors.UpstreamError: on any other socket error.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(addr.family, socket.SOCK_DGRAM)
    fd = -1
    timer: asyncio.TimerHandle | None = None
    try:
        sock.setblocking(False)
        PORTS.bind(sock)
        sock.connect((addr.host, addr.port))
        qid = message.random_id()
        sock.send(message.with_id(qid, template))
        # A reader callback and a timer rather than ``sock_recv`` under ``asyncio.timeout``:
        # half the CPU per query, which is most of what forwarding costs.
        waiter: asyncio.Future[Reply] = loop.create_future()
        receiver = _Receiver(sock, waiter, qid, message.question_of(template))
        fd = sock.fileno()
        loop.add_reader(fd, receiver.readable)
        timer = loop.call_later(timeout, receiver.expire)
        return await waiter
    except TimeoutError:
        raise errors.Timeout(f"read udp {_local(sock)}->{addr}: i/o timeout") from None
    except ConnectionRefusedError:
        raise errors.Refused(f"read udp {_local(sock)}->{addr}: read: connection refused") from None
    except OSError as err:
        raise errors.UpstreamError(f"udp {_local(sock)}->{addr}: {err.strerror or err}") from None
    finally:
        if timer is not None:
            timer.cancel()
        if fd >= 0:
            loop.remove_reader(fd)
        sock.close()


class _Receiver:
    """Reads datagrams until one passes `message.check`, then completes ``waiter``."""

    __slots__ = ("qid", "question", "sock", "waiter")

    def __init__(
        self, sock: socket.socket, waiter: asyncio.Future[Reply], qid: int, question: bytes
    ) -> None:
        self.sock = sock
        self.waiter = waiter
        self.qid = qid
        self.question = question

    def readable(self) -> None:
        waiter = self.waiter
        while not waiter.done():
            try:
                data = self.sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                waiter.set_exception(err)
                return
            verdict = message.check(data, self.qid, self.question)
            if verdict is not message.Verdict.IGNORE:
                waiter.set_result(Reply(data, verdict))

    def expire(self) -> None:
        if not self.waiter.done():
            self.waiter.set_exception(TimeoutError())


class StreamConn:
    """One TCP or TLS connection to an upstream, used for one query at a time."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        addr: Address,
        proto: str,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.addr = addr
        self.proto = proto
        self.used = time.monotonic()
        sock = writer.get_extra_info("socket")
        self.local = _local(sock) if sock is not None else "?"

    @property
    def closed(self) -> bool:
        return self.writer.is_closing() or self.reader.at_eof()

    async def exchange(self, template: bytes, *, timeout: float, cached: bool) -> Reply:
        """Send the query and read replies until the one with its ID and question arrives.

        :raises errors.CachedClosed: if a connection taken from the pool is found closed.
        """
        qid = message.random_id()
        question = message.question_of(template)
        query = message.with_id(qid, template)
        # Go names TLS connections "tcp" in its errors too.
        net = "tcp"
        try:
            self.writer.write(struct.pack("!H", len(query)) + query)
            async with asyncio.timeout(timeout):
                while True:
                    (length,) = struct.unpack("!H", await self.reader.readexactly(2))
                    data = await self.reader.readexactly(length)
                    verdict = message.check(data, qid, question)
                    if verdict is not message.Verdict.IGNORE:
                        self.used = time.monotonic()
                        return Reply(data, verdict)
        except TimeoutError:
            raise errors.Timeout(f"read {net} {self.local}->{self.addr}: i/o timeout") from None
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as err:
            if cached:
                raise errors.CachedClosed() from None
            if isinstance(err, asyncio.IncompleteReadError):
                raise errors.UpstreamError("EOF") from None
            raise errors.UpstreamError(
                f"read {net} {self.local}->{self.addr}: {err.strerror or err}"
            ) from None
        except (OSError, ssl.SSLError) as err:
            raise errors.UpstreamError(f"read {net} {self.local}->{self.addr}: {err}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


async def connect(
    addr: Address,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
) -> StreamConn:
    """Open a TCP connection (TLS when ``tls`` is given) to ``addr`` within ``timeout``.

    :raises errors.UpstreamError: worded as Go's dialer words it.
    """
    proto = TLS if tls is not None else TCP
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
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
        raise errors.UpstreamError(f"dial tcp {addr}: {err.strerror or err}") from None
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return StreamConn(reader, writer, addr, proto)


class Pool:
    """Idle connections to one upstream over one transport, the most recently used first.

    Taking the most recently used connection lets the others age past ``expire`` and close when
    traffic drops, instead of keeping every connection of a burst alive.
    """

    def __init__(self, expire: float) -> None:
        self.expire = expire
        self._idle: list[StreamConn] = []
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._idle)

    def get(self) -> StreamConn | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.used > self.expire or conn.closed:
                conn.close()
                continue
            return conn
        return None

    def put(self, conn: StreamConn) -> None:
        # A query still in flight when its configuration was unloaded hands back to a closed pool.
        if self._closed or self.expire <= 0 or conn.closed:
            conn.close()
            return
        conn.used = time.monotonic()
        self._idle.append(conn)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.expire, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle for longer than ``expire``; the oldest sit at the front."""
        self._timer = None
        now = time.monotonic()
        stale = 0
        for conn in self._idle:
            if now - conn.used <= self.expire and not conn.closed:
                break
            conn.close()
            stale += 1
        del self._idle[:stale]
        if self._idle:
            wait = self._idle[0].used + self.expire - now
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(wait, 0.05), self._sweep)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for conn in self._idle:
            conn.close()
        self._idle.clear()

"""One query over UDP, on a socket of its own bound to a fresh random port.

Every query gets its own socket, bound to a fresh random port (`ports`) and connected to the
upstream, so the kernel itself drops datagrams from any other address or port, and an ICMP "port
unreachable" surfaces as "connection refused" at once instead of a timeout. Replies that carry
another ID or question are ignored and the wait goes on until the timeout.

The sockets of all queries in flight are watched through one epoll set of their own, which the
event loop watches as a single descriptor (`Datagrams`): a query costs one ``epoll_ctl`` to be
watched, and closing its socket takes it out again. Registering each socket with the event loop
instead (``add_reader``/``remove_reader``) cost five ``epoll_ctl`` calls and a handle per query in
uvloop, most of what a forwarded query cost kdns. Sockets come from ``_socket`` directly, without
the ``socket.socket`` wrapper's Python layer.

At most `limits.udp_in_flight()` queries are in flight at once (`limits.Gate`); health checks and
probes (``gated=False``) go around the cap.
"""

from __future__ import annotations

import _socket
import asyncio
import select
import weakref

from kdns.pkg.upstream import errors, limits, message
from kdns.pkg.upstream.endpoint import UDP, Address, Reply, local_name
from kdns.pkg.upstream.metrics import METRICS
from kdns.pkg.upstream.ports import PORTS

#: Largest datagram read; an upstream may answer a non-EDNS query with more than 512 bytes.
MAX_DATAGRAM = 65535
_DGRAM = _socket.SOCK_DGRAM | _socket.SOCK_NONBLOCK | _socket.SOCK_CLOEXEC
_EPOLLIN = select.EPOLLIN
#: Ready sockets handled per wake-up; the rest wait for the next turn of the loop.
_BATCH = 256


class _Query:
    """One query in flight: its socket, what its reply must carry, and who waits for it."""

    __slots__ = ("qid", "question", "sock", "waiter")

    def __init__(
        self, sock: _socket.socket, qid: int, question: bytes, waiter: asyncio.Future[Reply]
    ) -> None:
        self.sock = sock
        self.qid = qid
        self.question = question
        self.waiter = waiter

    def readable(self) -> None:
        """Read datagrams until one passes `message.check`, then complete the waiter."""
        waiter = self.waiter
        recv = self.sock.recv
        while not waiter.done():
            try:
                data = recv(MAX_DATAGRAM)
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


class Datagrams:
    """The UDP queries in flight on one event loop, watched through one epoll set."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.gate = limits.Gate(limit)
        self.inflight: dict[int, _Query] = {}
        self._epoll = select.epoll()
        self._poll = self._epoll.poll
        self._register = self._epoll.register
        loop.add_reader(self._epoll.fileno(), self._ready)

    def close(self) -> None:
        if not self._epoll.closed:
            self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()

    def _ready(self) -> None:
        inflight = self.inflight
        for fd, _events in self._poll(0, _BATCH):
            query = inflight.get(fd)
            if query is not None:
                query.readable()

    async def exchange(
        self, addr: Address, template: bytes, *, timeout: float, gated: bool = True
    ) -> Reply:
        """Send the query ``template`` (no ID) to ``addr`` and wait for its reply.

        :raises errors.Timeout: when no matching reply arrives within ``timeout`` seconds.
        :raises errors.Refused: when the upstream's port is closed.
        :raises errors.Busy: when no slot came free in time (``gated``).
        :raises errors.Exhausted: when no socket could be opened.
        :raises errors.UpstreamError: on any other socket error.
        """
        gate = self.gate
        if gated and not gate.try_take():
            await gate.take(min(limits.QUEUE_WAIT, timeout), f"udp {addr}")
        try:
            sock = _socket.socket(addr.family, _DGRAM)
        except OSError as err:
            if gated:
                gate.give()
            if err.errno in limits.OUT_OF_RESOURCES:
                raise limits.exhausted(err, f"udp {addr}") from None
            raise errors.UpstreamError(f"udp {addr}: {err.strerror or err}") from None
        key = (addr, UDP)
        sockets = METRICS.sockets
        sockets[key] = sockets.get(key, 0) + 1
        fd = sock.fileno()
        timer: asyncio.TimerHandle | None = None
        try:
            PORTS.bind(sock)
            sock.connect((addr.host, addr.port))
            qid = message.random_id()
            sock.send(message.with_id(qid, template))
            waiter: asyncio.Future[Reply] = self.loop.create_future()
            query = _Query(sock, qid, message.question_of(template), waiter)
            self._register(fd, _EPOLLIN)
            self.inflight[fd] = query
            timer = self.loop.call_later(timeout, query.expire)
            return await waiter
        except TimeoutError:
            raise errors.Timeout(f"read udp {local_name(sock)}->{addr}: i/o timeout") from None
        except ConnectionRefusedError:
            raise errors.Refused(
                f"read udp {local_name(sock)}->{addr}: read: connection refused"
            ) from None
        except OSError as err:
            if err.errno in limits.OUT_OF_RESOURCES:
                raise limits.exhausted(err, f"udp {addr}") from None
            raise errors.UpstreamError(
                f"udp {local_name(sock)}->{addr}: {err.strerror or err}"
            ) from None
        finally:
            if timer is not None:
                timer.cancel()
            self.inflight.pop(fd, None)
            # Closed once the caller is done with the reply (it is sent to the client within
            # the same step of the task), so the close is not part of the query's latency.
            self.loop.call_soon(self._close, sock, key, gated)

    def _close(self, sock: _socket.socket, key: tuple[Address, str], gated: bool) -> None:
        sock.close()  # also takes it out of the epoll set
        METRICS.sockets[key] -= 1
        if gated:
            self.gate.give()


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Datagrams] = (
    weakref.WeakKeyDictionary()
)


def datagrams() -> Datagrams:
    """The running loop's `Datagrams`, made on first use with the process's cap."""
    loop = asyncio.get_running_loop()
    found = _PER_LOOP.get(loop)
    if found is None:
        found = _PER_LOOP[loop] = Datagrams(loop, limits.udp_in_flight())
    return found


async def exchange(addr: Address, template: bytes, *, timeout: float, gated: bool = True) -> Reply:
    """`Datagrams.exchange` on the running loop."""
    return await datagrams().exchange(addr, template, timeout=timeout, gated=gated)

"""A TCP client cannot make kdns hold more than a bounded amount per connection (issue 9).

The listener runs in the test's event loop with a chain of the test's own, so the server-side
state (write buffer, input buffer, replies in flight, queries handed to the chain) can be
observed directly while a real socket client on loopback pipelines queries:

- a client that never reads its replies stops being read once the write buffer is full, even
  while replies keep completing (the old listener resumed reading whenever fewer than 64 were
  in flight, and grew without limit);
- the limit on replies in flight holds before each query is dispatched, not once per read
  chunk (the old listener dispatched a whole chunk, thousands of queries, at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator

import dns.message
import pytest

from kdns import wire
from kdns.request import Request
from kdns.server import tcp
from kdns.server.tcp import TCPListener
from kdns.server.zones import Route, ZoneTable
from tests.support import clients
from tests.support.aio import eventually

#: A TXT record of 16 strings of 250 bytes: a 4 KB reply to a 30-byte query.
_TXT = b"".join(bytes((250,)) + b"x" * 250 for _ in range(16))
BIG_BODY = b"\xc0\x0c" + struct.pack("!HHIH", 16, wire.CLASS_IN, 60, len(_TXT)) + _TXT


def big_answer() -> wire.Answer:
    return wire.Answer(rcode=wire.NOERROR, body=BIG_BODY, counts=(1, 0, 0), ends=(len(BIG_BODY),))


class SoonBig:
    """Answers every query with 4 KB, one loop turn later (as forward or a lookup would)."""

    name = "soonbig"

    def serve(self, req: Request) -> object:
        return self._later()

    async def _later(self) -> wire.Answer:
        await asyncio.sleep(0)
        return big_answer()


class Held:
    """Holds every query until the test releases it; counts what reached the chain."""

    name = "held"

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[wire.Answer]] = []
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def serve(self, req: Request) -> object:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        fut: asyncio.Future[wire.Answer] = asyncio.get_running_loop().create_future()
        self.waiting.append(fut)
        return self._wait(fut)

    async def _wait(self, fut: asyncio.Future[wire.Answer]) -> wire.Answer:
        try:
            return await fut
        finally:
            self.in_flight -= 1

    def release(self, count: int) -> int:
        ready = self.waiting[:count]
        del self.waiting[:count]
        for fut in ready:
            if not fut.done():
                fut.set_result(wire.Answer(rcode=wire.NOERROR, body=b""))
        return len(ready)


@contextlib.asynccontextmanager
async def listening(handler: object, **options: object) -> AsyncIterator[TCPListener]:
    table = ZoneTable([Route("test.", handler, "dns://127.0.0.1:0")])  # type: ignore[arg-type]
    listener = TCPListener(table, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
    await listener.open()
    try:
        yield listener
    finally:
        await listener.close(grace=0)


def queries(count: int) -> bytes:
    return b"".join(
        clients.frame(clients.make_query(f"q{n}.test.", "TXT", qid=n % 65536).to_wire())
        for n in range(count)
    )


async def client(port: int, *, rcvbuf: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


async def send_for(sock: socket.socket, data: bytes, seconds: float) -> int:
    """Send ``data`` while the server takes it, for at most ``seconds``; bytes sent."""
    loop = asyncio.get_running_loop()
    sent = 0
    end = loop.time() + seconds
    while sent < len(data) and loop.time() < end:
        try:
            sent += sock.send(data[sent : sent + 65536])
        except BlockingIOError:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # the server runs in this loop too
    return sent


async def test_a_client_that_never_reads_holds_a_bounded_write_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What reading stops at, with the cut-off for unsent bytes out of the way (tested below).
    monkeypatch.setattr(tcp, "MAX_WRITE_BUFFER", 1 << 30)
    async with listening(SoonBig()) as listener:
        sock = await client(listener.port, rcvbuf=4096)
        peak = {"write": 0, "input": 0, "pending": 0}
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                for conn in list(listener.connections):
                    if conn.transport is not None:
                        peak["write"] = max(peak["write"], conn.transport.get_write_buffer_size())
                    peak["input"] = max(peak["input"], len(conn.buffer))
                    peak["pending"] = max(peak["pending"], len(conn.pending))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        try:
            # 20,000 queries would draw 80 MB of replies; the client reads none of them.
            sent = await send_for(sock, queries(20_000), seconds=3.0)
            await asyncio.sleep(1.0)  # what the kernel took is read and answered by now
        finally:
            stop.set()
            await watcher
        (conn,) = list(listener.connections)
        assert conn.transport is not None
        _, high = conn.transport.get_write_buffer_limits()
        reply = 2 + 12 + len("q19999.test.") + 2 + 4 + len(BIG_BODY)
        bound = high + (tcp.MAX_PENDING + 1) * reply
        assert peak["write"] > 0, "the test never filled the write buffer"
        assert peak["write"] <= bound, f"write buffer {peak['write']} > {bound} ({sent} sent)"
        assert peak["input"] <= tcp.MAX_INPUT
        assert peak["pending"] <= tcp.MAX_PENDING
        assert not conn.reading, "the server still reads a client that takes no replies"
        sock.close()
        await eventually(lambda: not listener.connections)
        assert not listener.idle and not listener.by_source, "a closed connection is still held"
        assert not conn.buffer and not conn.pending and conn.transport is None


async def test_the_in_flight_limit_holds_for_each_query_of_one_read() -> None:
    held = Held()
    async with listening(held) as listener:
        sock = await client(listener.port)
        count = 10_000
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(sock, queries(count)), 5)
        await eventually(lambda: held.calls >= tcp.MAX_PENDING)
        await asyncio.sleep(0.2)
        assert held.calls == tcp.MAX_PENDING, "queries dispatched past the limit"
        (conn,) = list(listener.connections)
        assert len(conn.buffer) <= tcp.MAX_INPUT
        assert not conn.reading, "reading goes on while the limit is reached"

        # As replies complete, waiting queries go to the chain one for one.
        held.release(10)
        await eventually(lambda: held.calls == tcp.MAX_PENDING + 10)

        answered: set[int] = set()
        buf = bytearray()
        end = loop.time() + 30
        while len(answered) < count and loop.time() < end:
            held.release(len(held.waiting))
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 0.05)
            except TimeoutError:
                continue
            assert chunk, "the server closed the connection"
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + int.from_bytes(buf[:2], "big"):
                length = int.from_bytes(buf[:2], "big")
                answered.add(dns.message.from_wire(bytes(buf[2 : 2 + length])).id)
                del buf[: 2 + length]
        assert held.calls == count
        assert len(answered) == count
        assert held.max_in_flight <= tcp.MAX_PENDING
        sock.close()


async def test_replies_not_taken_within_the_write_timeout_close_the_connection() -> None:
    async with listening(SoonBig(), timeouts=tcp.Timeouts(write=1.0)) as listener:
        sock = await client(listener.port, rcvbuf=4096)
        await send_for(sock, queries(5_000), seconds=1.0)
        await eventually(lambda: len(listener.connections) == 1)
        # Not read for 1 s (2 s at most: the timer looks once per period): closed, slot freed.
        await eventually(lambda: not listener.connections, timeout=4.0)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionResetError):
            while await asyncio.wait_for(loop.sock_recv(sock, 65536), 2):
                pass  # what was sent before the reset; then EOF or the reset itself
        sock.close()


async def test_a_client_that_lets_replies_pile_up_is_cut_off() -> None:
    async with listening(SoonBig()) as listener:
        sock = await client(listener.port, rcvbuf=4096)
        peak = 0
        sent = await send_for(sock, queries(2_000), seconds=0.5)
        for _ in range(200):
            for conn in list(listener.connections):
                if conn.transport is not None:
                    peak = max(peak, conn.transport.get_write_buffer_size())
            if not listener.connections:
                break
            await asyncio.sleep(0.01)
        assert sent > 0
        assert not listener.connections, "a client that reads nothing was kept"
        assert peak <= tcp.MAX_WRITE_BUFFER + len(BIG_BODY) + 100
        assert not listener.idle and not listener.by_source
        sock.close()

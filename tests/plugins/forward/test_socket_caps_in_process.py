"""In-process checks of the socket caps of ``kdns.pkg.upstream.limits``: the gate, the TCP pool
(pipelining, replies out of order, waiting, `Busy`), running out of descriptors (`Exhausted`: one
log line, no health check, SERVFAIL at once), and the ``kdns_forward_sockets`` gauge."""

from __future__ import annotations

import asyncio
import errno
import logging
import struct
import types
from collections.abc import AsyncIterator, Iterator

import dns.message
import prometheus_client
import pytest

from kdns import config, corefile, metrics, plugin, wire
from kdns.pkg.upstream import datagram, errors, health, limits, message, transport
from kdns.pkg.upstream.metrics import METRICS
from kdns.pkg.upstream.proxy import Proxy
from kdns.plugins.forward import metrics as forward_metrics
from kdns.request import Request
from tests.support.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


def template(name: str = "www.example.") -> bytes:
    return message.query(message.question(name, 1))


def answer_of(reply: transport.Reply) -> wire.Answer:
    return message.to_answer(reply.data, reply.verdict)


async def test_the_gate_hands_slots_over_in_order_and_gives_up_in_time() -> None:
    gate = limits.Gate(2)
    await gate.take(0, "x")
    await gate.take(0, "x")
    with pytest.raises(errors.Busy):
        await gate.take(0.05, "x")
    assert gate.used == 2
    waiter = asyncio.ensure_future(gate.take(1, "x"))
    await asyncio.sleep(0)
    gate.give()
    await waiter  # the slot went to the waiter, not back to the pool
    assert gate.used == 2
    # A waiter cancelled after it was handed a slot gives it back.
    late = asyncio.ensure_future(gate.take(1, "x"))
    await asyncio.sleep(0)
    gate.give()
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    assert gate.used == 1


async def test_udp_in_flight_is_a_quarter_of_the_descriptor_limit() -> None:
    assert limits.udp_in_flight(1024) == 256
    assert limits.udp_in_flight(128) == 32
    assert limits.udp_in_flight(40) == limits.UDP_MIN
    assert limits.udp_in_flight(1 << 20) == limits.UDP_MAX


async def test_many_tcp_queries_share_a_few_connections(upstream: FakeUpstream) -> None:
    upstream.delay = 0.05
    addr = transport.Address("127.0.0.1", upstream.port)
    proxy = Proxy(addr)
    replies = await asyncio.gather(
        *(
            proxy.exchange(template(f"n{i}.example."), proto=transport.TCP, timeout=5)
            for i in range(300)
        )
    )
    assert [answer_of(r).rcode for r in replies] == [wire.NOERROR] * 300
    assert upstream.connections["tcp"] == limits.TCP_PER_UPSTREAM
    assert len(proxy.pools[transport.TCP]) == limits.TCP_PER_UPSTREAM
    # Each query got the reply to its own question.
    for i, reply in enumerate(replies):
        assert dns.message.from_wire(reply.data).question[0].name.to_text() == f"n{i}.example."
    proxy.close()


@pytest.fixture
async def reversing_upstream() -> AsyncIterator[int]:
    """A TCP upstream that reads two queries, then answers them in the opposite order."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        wires = []
        for _ in range(2):
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            wires.append(await reader.readexactly(length))
        for data in reversed(wires):
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query).to_wire()
            writer.write(struct.pack("!H", len(reply)) + reply)
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_pipelined_replies_may_come_back_in_any_order(reversing_upstream: int) -> None:
    pool = transport.Pool(10, limit=1)
    addr = transport.Address("127.0.0.1", reversing_upstream)

    async def open_conn(timeout: float) -> transport.StreamConn:
        return await transport.connect(addr, timeout=timeout)

    key = ("forward", str(addr), transport.TCP)
    first, second = await asyncio.gather(
        pool.exchange(open_conn, template("a.example."), timeout=2, key=key),
        pool.exchange(open_conn, template("b.example."), timeout=2, key=key),
    )
    assert dns.message.from_wire(first.data).question[0].name.to_text() == "a.example."
    assert dns.message.from_wire(second.data).question[0].name.to_text() == "b.example."
    pool.close()


async def test_a_full_pool_makes_queries_wait_then_busy(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "QUEUE_WAIT", 0.1)
    upstream.delay = 0.5
    addr = transport.Address("127.0.0.1", upstream.port)
    pool = transport.Pool(10, limit=1, pipeline=2)

    async def open_conn(timeout: float) -> transport.StreamConn:
        return await transport.connect(addr, timeout=timeout)

    key = ("forward", str(addr), transport.TCP)
    results = await asyncio.gather(
        *(pool.exchange(open_conn, template(f"w{i}."), timeout=2, key=key) for i in range(3)),
        return_exceptions=True,
    )
    assert isinstance(results[2], errors.Busy)
    assert all(isinstance(r, transport.Reply) for r in results[:2])
    assert upstream.connections["tcp"] == 1
    pool.close()


class _NoSockets:
    """Stands in for the ``_socket`` module: every new socket fails with EMFILE."""

    SOCK_DGRAM = 2

    @staticmethod
    def socket(*args: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")


def request(name: str) -> Request:
    return Request(dns.message.make_query(name, "A").to_wire(), "udp", ("127.0.0.1", 40000))


async def test_out_of_descriptors_is_one_log_line_and_servfail_without_health_checks(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(datagram, "_socket", types.SimpleNamespace(socket=_NoSockets.socket))
    monkeypatch.setattr(limits, "_EXHAUSTED", limits.Throttled())
    server = config.load(
        corefile.parse(
            f". {{\n forward . 127.0.0.1:{upstream.port} 127.0.0.1:{upstream.port}\n}}\n"
        )
    ).servers[0]
    proxies = server.handler.proxies  # type: ignore[attr-defined]
    before = METRICS.socket_failures["descriptors"]
    with caplog.at_level(logging.WARNING, logger="kdns.plugin.forward"):
        answers = [
            await plugin.resolve(server.handler.serve(request(f"e{i}.example."))) for i in range(20)
        ]
    assert {a.rcode for a in answers} == {wire.SERVFAIL}
    assert "Too many open files" in (answers[0].error or "")
    # One attempt per query: no other upstream is tried, no health check starts.
    assert METRICS.socket_failures["descriptors"] == before + 20
    assert not any(p.health.running for p in proxies)
    assert all(p.fails == 0 for p in proxies)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "Too many open files" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    # A health check that cannot open a socket counts neither way.
    checker = health.Checker(proxies[0], health.HealthOptions())
    assert await checker.check() is None
    assert upstream.count == 0
    for p in proxies:
        p.close()


async def test_the_sockets_gauge_counts_what_is_open(upstream: FakeUpstream) -> None:
    forward_metrics.export()
    upstream.delay = 0.3
    addr = transport.Address("127.0.0.1", upstream.port)
    proxy = Proxy(addr)

    def gauge(proto: str) -> float | None:
        text = prometheus_client.generate_latest(metrics.registry).decode()
        line = f'kdns_forward_sockets{{proto="{proto}",to="{addr}"}} '
        for row in text.splitlines():
            if row.startswith(line):
                return float(row[len(line) :])
        return None

    pending = [
        asyncio.ensure_future(proxy.exchange(template(f"g{i}."), proto=transport.UDP, timeout=2))
        for i in range(5)
    ]
    await asyncio.sleep(0.1)
    assert gauge("udp") == 5
    await asyncio.gather(*pending)
    assert gauge("udp") == 0
    await proxy.exchange(template(), proto=transport.TCP, timeout=2)
    assert gauge("tcp") == 1
    proxy.close()
    await asyncio.sleep(0.05)
    assert gauge("tcp") == 0


async def test_a_failing_health_check_logs_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = Proxy(transport.Address("127.0.0.1", 9), health_options=health.HealthOptions(0.01))

    async def broken() -> bool:
        raise RuntimeError("something unexpected")

    monkeypatch.setattr(proxy.health, "check", broken)
    with caplog.at_level(logging.DEBUG, logger="kdns.plugin.forward"):
        proxy.healthcheck()
        for _ in range(50):
            if not proxy.health.running:
                break
            await asyncio.sleep(0.01)
    errors_logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors_logged) == 1
    assert "something unexpected" in errors_logged[0].getMessage()
    assert errors_logged[0].exc_info is None
    proxy.close()

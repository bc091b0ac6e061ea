"""In-process checks of ``kdns.pkg.upstream`` and the forward handler: source-port draws, TCP
connection reuse and expiry, recovery from a pooled connection the upstream closed, health-check
state, and the counters the prometheus plugin will export."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import dns.message
import pytest

from kdns import config, corefile, plugin, wire
from kdns.pkg.upstream import errors, health, message, ports, transport
from kdns.pkg.upstream.metrics import METRICS
from kdns.pkg.upstream.proxy import Proxy
from kdns.plugins.forward import metrics as forward_metrics
from kdns.plugins.forward.handler import Forward
from kdns.request import Request
from tests.support.upstream import FakeUpstream, free_port


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


def template(name: str = "www.example.") -> bytes:
    return message.query(message.question(name, 1))


def test_source_ports_skip_the_recently_used() -> None:
    picker = ports.SourcePorts(*ports.ephemeral_range(), recent=50)
    drawn = []
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            drawn.append(picker.bind(sock))
    for i in range(len(drawn) - 50):
        window = drawn[i : i + 51]
        assert len(set(window)) == len(window), "a port came back within 50 draws"


async def test_udp_exchange_counts_requests_by_rcode(upstream: FakeUpstream) -> None:
    addr = transport.Address("127.0.0.1", upstream.port)
    proxy = Proxy(addr)
    key = ("forward", str(addr), "NOERROR")
    before = METRICS.requests[key]
    reply = await proxy.exchange(template(), proto=transport.UDP, timeout=2)
    assert message.to_answer(reply.data).ancount == 1
    assert METRICS.requests[key] == before + 1
    assert METRICS.request_seconds[key] > 0


async def test_udp_timeout_is_worded_like_go() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        addr = transport.Address("127.0.0.1", silent.getsockname()[1])
        with pytest.raises(errors.Timeout) as info:
            await transport.exchange_udp(addr, template(), timeout=0.1)
    text = str(info.value)
    assert text.startswith("read udp 127.0.0.1:") and text.endswith(f"->{addr}: i/o timeout")


async def test_tcp_connections_are_reused_then_expire(upstream: FakeUpstream) -> None:
    addr = transport.Address("127.0.0.1", upstream.port)
    proxy = Proxy(addr, expire=0.2)
    hits = ("forward", str(addr), transport.TCP)
    before = METRICS.conn_cache_hits[hits]
    for _ in range(3):
        await proxy.exchange(template(), proto=transport.TCP, timeout=2)
    assert upstream.connections["tcp"] == 1
    assert METRICS.conn_cache_hits[hits] == before + 2
    await asyncio.sleep(0.35)
    assert len(proxy.pools[transport.TCP]) == 0, "swept after expire"
    await proxy.exchange(template(), proto=transport.TCP, timeout=2)
    assert upstream.connections["tcp"] == 2
    proxy.close()


async def test_a_pooled_connection_closed_by_the_upstream_is_replaced(
    upstream: FakeUpstream,
) -> None:
    addr = transport.Address("127.0.0.1", upstream.port)
    proxy = Proxy(addr)
    await proxy.exchange(template(), proto=transport.TCP, timeout=2)
    # The upstream drops its connections (a restart); the pooled one is dead but looks idle.
    upstream.pause()
    upstream.resume()
    await asyncio.sleep(0.05)
    reply = await proxy.exchange(template("b.example."), proto=transport.TCP, timeout=2)
    assert message.to_answer(reply.data).rcode == wire.NOERROR
    assert upstream.connections["tcp"] == 2
    proxy.close()


async def test_health_checks_count_failures_mark_down_and_recover(upstream: FakeUpstream) -> None:
    addr = transport.Address("127.0.0.1", upstream.port)
    options = health.HealthOptions(interval=0.05, max_fails=2, timeout=0.2)
    proxy = Proxy(addr, health_options=options)
    failures = ("forward", str(addr))
    before = METRICS.healthcheck_failures[failures]
    upstream.pause()
    proxy.healthcheck()
    proxy.healthcheck()  # a second kick while checks run starts nothing new
    for _ in range(100):
        if proxy.down():
            break
        await asyncio.sleep(0.01)
    assert proxy.down()
    assert METRICS.healthcheck_failures[failures] >= before + 2
    upstream.resume()
    for _ in range(100):
        if not proxy.down():
            break
        await asyncio.sleep(0.01)
    assert proxy.fails == 0
    assert not proxy.health.running
    assert [q.qtype for q in upstream.queries] == ["NS"]
    proxy.close()


def forward_chain(text: str) -> config.ServerConfig:
    return config.load(corefile.parse(text)).servers[0]


def request(name: str) -> Request:
    return Request(dns.message.make_query(name, "A").to_wire(), "udp", ("127.0.0.1", 40000))


async def test_max_concurrent_rejects_are_counted_and_not_cached_errors(
    upstream: FakeUpstream,
) -> None:
    upstream.delay = 0.3
    server = forward_chain(
        f". {{\n forward . 127.0.0.1:{upstream.port} {{\n  max_concurrent 2\n }}\n}}\n"
    )
    before = forward_metrics.METRICS.max_concurrent_rejects
    results = await asyncio.gather(
        *(plugin.resolve(server.handler.serve(request(f"n{i}.example."))) for i in range(5))
    )
    refused = [a for a in results if a.rcode == wire.REFUSED]
    assert len(refused) == 3
    assert all(a.body is None for a in refused), "an error the server writes: nothing to cache"
    assert refused[0].error == "concurrent queries exceeded maximum 2"
    assert forward_metrics.METRICS.max_concurrent_rejects == before + 3
    assert server.handler.inflight == 0  # type: ignore[attr-defined]


async def test_all_down_counts_healthcheck_broken() -> None:
    closed = free_port()
    server = forward_chain(
        f". {{\n forward . 127.0.0.1:{closed} {{\n  failfast_all_unhealthy_upstreams\n }}\n}}\n"
    )
    proxy = server.handler.proxies[0]  # type: ignore[attr-defined]
    proxy.fails = 2
    before = forward_metrics.METRICS.healthcheck_broken
    answer = await plugin.resolve(server.handler.serve(request("x.example.")))
    assert (answer.rcode, answer.error) == (wire.SERVFAIL, "no healthy proxies")
    assert forward_metrics.METRICS.healthcheck_broken == before + 1


async def test_cleanup_waits_for_the_health_checks_it_cancels(upstream: FakeUpstream) -> None:
    """A reload's cleanup returns only once every forward's health checks have ended: none
    goes on probing an upstream of a configuration that is gone."""
    text = f".:1053 {{\n    forward . 127.0.0.1:{upstream.port} {{\n        health_check 0.05s\n    }}\n}}\n"
    loaded = config.load(corefile.parse(text))
    upstream.pause()
    link: object = loaded.servers[0].handler
    while not isinstance(link, Forward):
        link = link.next
    for proxy in link.proxies:
        proxy.healthcheck()
    checks = [t for t in asyncio.all_tasks() if t.get_name().startswith("forward-health-")]
    assert checks
    for hook in loaded.hooks.cleanup:
        await hook()
    assert all(t.done() for t in checks)

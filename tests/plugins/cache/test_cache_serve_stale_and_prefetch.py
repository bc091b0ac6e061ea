"""serve_stale (RFC 8767; USER-NEEDS 13) and prefetch, with a next plugin that answers later.

The next plugin here behaves like forward: it returns an awaitable, then a reply or the
SERVFAIL the server writes when every upstream failed. Cache time is a fake clock; upstream
latency is real asyncio time, kept to tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from kdns import plugin, wire
from kdns.plugins.cache import handler, options, stats
from kdns.request import Request
from tests.support import seam

NAME = "api.example.org."
OLD = seam.answer(NAME, "A", [f"{NAME} 30 IN A 192.0.2.1"])
NEW = seam.answer(NAME, "A", [f"{NAME} 30 IN A 192.0.2.2"])


class Upstream:
    """forward stand-in: ``answer`` after ``delay`` seconds, or failure when ``down``."""

    def __init__(self) -> None:
        self.answer = OLD
        self.down = False
        self.delay = 0.0

    def __call__(self, req: Request) -> plugin.Result:
        if self.down:
            return seam.failing(self.delay)
        return seam.later(self.answer, self.delay)


def make(**opts: object) -> tuple[handler.Cache, seam.Next, seam.Clock, Upstream]:
    upstream = Upstream()
    clock = seam.Clock()
    nxt = seam.Next(upstream)
    settings = dataclasses.replace(options.Options(zones=(".",)), **opts)  # type: ignore[arg-type]
    return (
        handler.Cache(nxt, settings, clock=clock, registry=stats.Registry()),
        nxt,
        clock,
        upstream,
    )


async def ask(cache: handler.Cache) -> wire.Answer:
    return await plugin.resolve(cache.serve(seam.request(NAME)))


async def settle(cache: handler.Cache) -> None:
    """Let background refreshes finish."""
    while cache.background.tasks:
        await asyncio.gather(*cache.background.tasks, return_exceptions=True)


def address(answer: wire.Answer) -> str:
    reply = seam.reply(seam.request(NAME), answer)
    return str(reply.answer[0][0]) if reply.answer else ""


def ttl(answer: wire.Answer) -> int:
    return seam.ttls(seam.reply(seam.request(NAME), answer))[0]


async def test_immediate_serves_stale_at_once_and_refreshes_behind() -> None:
    cache, nxt, clock, upstream = make(stale=3600.0)
    await ask(cache)
    clock.advance(31)
    upstream.down = True
    upstream.delay = 0.05
    result = cache.serve(seam.request(NAME))
    assert isinstance(result, wire.Answer)  # not awaiting the upstream at all
    assert (address(result), ttl(result)) == ("192.0.2.1", 0)
    assert len(cache.background.tasks) == 1
    # One refresh at a time per entry, however many clients ask meanwhile.
    await ask(cache)
    assert nxt.calls == 2
    await settle(cache)
    assert cache.stats.served_stale == 2
    # The source is back: still stale at once, and the refresh brings the new data.
    upstream.down = False
    upstream.answer = NEW
    assert address(await ask(cache)) == "192.0.2.1"
    await settle(cache)
    fresh = await ask(cache)
    assert (address(fresh), ttl(fresh)) == ("192.0.2.2", 30)
    assert cache.stats.served_stale == 3


async def test_stale_only_within_the_duration() -> None:
    cache, _nxt, clock, upstream = make(stale=60.0)
    await ask(cache)
    upstream.down = True
    clock.advance(30 + 59)
    assert (await ask(cache)).body is not None
    await settle(cache)
    clock.advance(2)  # 91 s: past expiry (30 s) plus the stale window (60 s)
    answer = await ask(cache)
    assert answer.body is None and answer.rcode == wire.SERVFAIL


async def test_verify_asks_the_source_first_and_falls_back_to_stale() -> None:
    cache, nxt, clock, upstream = make(stale=3600.0, verify=True)
    await ask(cache)
    clock.advance(31)
    upstream.down = True
    pending = cache.serve(seam.request(NAME))
    assert not isinstance(pending, wire.Answer)  # waits for the source
    answer = await plugin.resolve(pending)
    assert (address(answer), ttl(answer)) == ("192.0.2.1", 0)
    assert cache.stats.served_stale == 1
    assert nxt.calls == 2
    # Reachable again: the verify's answer is served and stored, never the stale one.
    upstream.down = False
    upstream.answer = NEW
    answer = await ask(cache)
    assert (address(answer), ttl(answer)) == ("192.0.2.2", 30)
    assert cache.stats.served_stale == 1
    await ask(cache)
    assert nxt.calls == 3


async def test_verify_does_not_store_a_servfail_reply() -> None:
    cache, _nxt, clock, upstream = make(stale=3600.0, verify=True)
    await ask(cache)
    clock.advance(31)
    upstream.answer = seam.answer(NAME, "A", rcode=wire.SERVFAIL)
    assert address(await ask(cache)) == "192.0.2.1"
    assert cache.stats.entries("denial") == 0


async def test_verify_wait_is_bounded_and_a_late_reply_still_refreshes() -> None:
    cache, nxt, clock, upstream = make(stale=3600.0, verify=True, verify_timeout=0.05)
    await ask(cache)
    clock.advance(31)
    upstream.answer = NEW
    upstream.delay = 0.3
    started = time.monotonic()
    answer = await ask(cache)
    waited = time.monotonic() - started
    assert (address(answer), ttl(answer)) == ("192.0.2.1", 0)
    assert 0.04 < waited < 0.25
    await settle(cache)  # the slow verify lands after the client was answered
    assert address(await ask(cache)) == "192.0.2.2"
    assert nxt.calls == 2


async def test_prefetch_refreshes_popular_entries_before_they_expire() -> None:
    cache, nxt, clock, upstream = make(prefetch=2)
    await ask(cache)
    clock.advance(10)
    await ask(cache)  # hit 1
    clock.advance(10)
    await ask(cache)  # hit 2, but 10 s left of 30 is above the 10% threshold (3 s)
    assert nxt.calls == 1
    upstream.answer = NEW
    clock.advance(7.5)  # 3 s left: prefetch, and this client still gets the current entry
    answer = await ask(cache)
    assert (address(answer), ttl(answer)) == ("192.0.2.1", 3)
    await settle(cache)
    assert nxt.calls == 2
    assert cache.stats.prefetch == 1
    answer = await ask(cache)
    assert (address(answer), ttl(answer)) == ("192.0.2.2", 30)
    # The popularity carried over to the new entry.
    new = cache.success.lookup(seam.request(NAME).key)
    assert new is not None and new.hits >= 2


async def test_prefetch_needs_hits_without_gaps() -> None:
    cache, nxt, clock, _upstream = make(prefetch=2, prefetch_window=5.0)
    await ask(cache)
    clock.advance(20)
    await ask(cache)
    clock.advance(8)  # a gap longer than the 5 s window: the count starts over
    await ask(cache)
    await settle(cache)
    assert nxt.calls == 1
    assert cache.stats.prefetch == 0


async def test_pending_refreshes_are_cancelled_at_shutdown() -> None:
    cache, _nxt, clock, upstream = make(stale=3600.0)
    await ask(cache)
    clock.advance(31)
    upstream.delay = 10.0
    await ask(cache)
    assert len(cache.background.tasks) == 1
    await cache.background.cancel()
    assert not cache.background.tasks
    entry = cache.success.lookup(seam.request(NAME).key)
    assert entry is not None and not entry.refreshing


def test_refresh_without_a_running_loop_is_skipped_cleanly() -> None:
    cache, _nxt, clock, _upstream = make(stale=3600.0)
    asyncio.run(ask(cache))
    clock.advance(31)
    answer = cache.serve(seam.request(NAME))  # no loop: the refresh coroutine is closed
    assert isinstance(answer, wire.Answer) and ttl(answer) == 0
    entry = cache.success.lookup(seam.request(NAME).key)
    assert entry is not None and not entry.refreshing


async def test_a_refresh_that_raises_is_logged_and_forgotten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, nxt, clock, _upstream = make(stale=3600.0)
    await ask(cache)
    clock.advance(31)

    def broken(req: Request) -> plugin.Result:
        raise RuntimeError("boom")

    nxt.script = broken
    assert ttl(await ask(cache)) == 0
    assert "plugin/cache: refreshing" in caplog.text
    entry = cache.success.lookup(seam.request(NAME).key)
    assert entry is not None and not entry.refreshing

"""Negative caching (RFC 2308) and SERVFAIL caching (coredns/coredns#5074, #7956)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from kdns import wire
from kdns.plugins.cache import handler, options, stats
from tests.support import seam

NAME = "nope.example.org."
ZONE = "example.org."


def nxdomain(*, ttl: int = 3600, minimum: int = 2) -> wire.Answer:
    return seam.answer(
        NAME, "A", rcode=wire.NXDOMAIN, authority=[seam.soa(ZONE, ttl=ttl, minimum=minimum)]
    )


POSITIVE = seam.answer(NAME, "A", [f"{NAME} 60 IN A 192.0.2.1"])
SERVFAIL = seam.answer(NAME, "A", rcode=wire.SERVFAIL)


def make(
    script: seam.Script | wire.Answer, **opts: object
) -> tuple[handler.Cache, seam.Next, seam.Clock]:
    clock = seam.Clock()
    nxt = seam.Next(script)
    settings = dataclasses.replace(options.Options(zones=(".",)), **opts)  # type: ignore[arg-type]
    return handler.Cache(nxt, settings, clock=clock, registry=stats.Registry()), nxt, clock


def sequence(*answers: wire.Answer) -> seam.Script:
    it: Iterator[wire.Answer] = iter(answers)
    return lambda req: next(it)


def ask(cache: handler.Cache, name: str = NAME, rdtype: str = "A") -> wire.Answer:
    answer = cache.serve(seam.request(name, rdtype))
    assert isinstance(answer, wire.Answer)
    return answer


def test_negative_ttl_is_the_soa_minimum_rfc2308() -> None:
    # SOA TTL 3600, MINIMUM 2: the negative TTL is min(3600, 2) = 2 (RFC 2308 section 5).
    cache, nxt, clock = make(nxdomain(), denial_min_ttl=0)
    req = seam.request(NAME)
    first = seam.reply(req, ask(cache))
    assert first.rcode() == wire.NXDOMAIN
    assert seam.ttls(first) == [2]
    clock.advance(1.5)
    assert seam.ttls(seam.reply(req, ask(cache))) == [1]
    assert nxt.calls == 1
    clock.advance(0.5)  # expired: the next query reaches the next plugin
    ask(cache)
    assert nxt.calls == 2
    assert cache.stats.hits_denial == 1


def test_negative_ttl_is_the_soa_ttl_when_lower() -> None:
    cache, _, _ = make(nxdomain(ttl=30, minimum=900))
    assert seam.ttls(seam.reply(seam.request(NAME), ask(cache))) == [30]


def test_default_min_ttl_of_five_still_applies_to_denial() -> None:
    cache, nxt, clock = make(nxdomain(minimum=2))
    assert seam.ttls(seam.reply(seam.request(NAME), ask(cache))) == [5]
    clock.advance(4.9)
    ask(cache)
    assert nxt.calls == 1


def test_denial_ttl_caps_the_negative_ttl() -> None:
    cache, _, _ = make(nxdomain(minimum=3600), denial_ttl=30)
    assert seam.ttls(seam.reply(seam.request(NAME), ask(cache))) == [30]


def test_nodata_is_cached_as_denial() -> None:
    nodata = seam.answer(NAME, "AAAA", authority=[seam.soa(ZONE, minimum=60)])
    cache, nxt, _ = make(nodata)
    ask(cache, rdtype="AAAA")
    reply = seam.reply(seam.request(NAME, "AAAA"), ask(cache, rdtype="AAAA"))
    assert nxt.calls == 1
    assert reply.rcode() == wire.NOERROR and not reply.answer
    assert cache.stats.entries("denial") == 1


def test_nxdomain_without_soa_is_not_cached() -> None:
    bare = seam.answer(NAME, "A", rcode=wire.NXDOMAIN)  # coredns/coredns#3755
    cache, nxt, _ = make(bare)
    ask(cache)
    ask(cache)
    assert nxt.calls == 2


def test_denial_zero_disables_negative_caching() -> None:
    cache, nxt, _ = make(lambda req: nxdomain(), denial_capacity=0)
    ask(cache)
    ask(cache)
    assert nxt.calls == 2
    assert cache.stats.entries("denial") == 0


def test_disable_denial_for_a_zone_only() -> None:
    other = seam.answer(
        "x.example.net.", "A", rcode=wire.NXDOMAIN, authority=[seam.soa("example.net.")]
    )
    cache, nxt, _ = make(
        lambda req: other if "net" in req.name else nxdomain(), disable_denial=(ZONE,)
    )
    for _ in range(2):
        ask(cache)
        ask(cache, "x.example.net.")
    assert nxt.calls == 3


def test_servfail_is_cached_for_five_seconds_by_default() -> None:
    cache, nxt, clock = make(sequence(SERVFAIL, SERVFAIL, POSITIVE))
    assert ask(cache).rcode == wire.SERVFAIL
    clock.advance(4.9)
    assert ask(cache).rcode == wire.SERVFAIL
    assert nxt.calls == 1
    clock.advance(0.1)  # recovered within 5 s of the failure (USER-NEEDS 14)
    assert ask(cache).rcode == wire.SERVFAIL
    assert nxt.calls == 2
    clock.advance(5)
    assert ask(cache).rcode == wire.NOERROR


def test_servfail_zero_disables_servfail_caching() -> None:
    cache, nxt, _ = make(sequence(SERVFAIL, POSITIVE), servfail_ttl=0.0)
    assert ask(cache).rcode == wire.SERVFAIL
    assert ask(cache).rcode == wire.NOERROR
    assert nxt.calls == 2


def test_servfail_duration_is_its_own_ttl() -> None:
    cache, nxt, clock = make(sequence(SERVFAIL, POSITIVE), servfail_ttl=2.0)
    ask(cache)
    clock.advance(1.5)
    ask(cache)
    assert nxt.calls == 1
    clock.advance(0.5)
    assert ask(cache).rcode == wire.NOERROR


def test_servfail_does_not_shadow_a_servable_positive_entry() -> None:
    # Prefetch refreshes a live positive entry; the upstream fails that once. The SERVFAIL is
    # cached, but the positive entry is still fresh and keeps being served (coredns#7956).
    cache, nxt, clock = make(sequence(POSITIVE, SERVFAIL, POSITIVE), prefetch=1)
    ask(cache)
    clock.advance(55)  # 5 s left of 60: under the 10% threshold, the hit prefetches
    assert ask(cache).rcode == wire.NOERROR
    assert nxt.calls == 2
    assert cache.stats.entries("denial") == 1  # the SERVFAIL, kept for 5 s
    for _ in range(3):
        clock.advance(1)
        assert ask(cache).rcode == wire.NOERROR


def test_servfail_does_not_shadow_a_stale_positive_entry() -> None:
    cache, _nxt, clock = make(sequence(POSITIVE, SERVFAIL, SERVFAIL), stale=3600.0)
    ask(cache)
    clock.advance(61)  # expired: stale served at once, the refresh gets SERVFAIL (cached)
    reply = ask(cache)
    assert reply.rcode == wire.NOERROR
    assert seam.ttls(seam.reply(seam.request(NAME), reply)) == [0]
    assert cache.stats.entries("denial") == 1
    assert ask(cache).rcode == wire.NOERROR
    assert cache.stats.served_stale == 2


def test_stale_servfail_is_not_served() -> None:
    cache, _nxt, clock = make(sequence(SERVFAIL, POSITIVE), stale=3600.0)
    ask(cache)
    clock.advance(6)
    assert ask(cache).rcode == wire.NOERROR
    assert cache.stats.served_stale == 0

"""Positive caching: hits, TTLs that count down, what the key holds, capacity, zones."""

from __future__ import annotations

import dataclasses

import dns.flags
import pytest

from kdns import wire
from kdns.plugins.cache import handler, options, stats
from kdns.request import Request
from tests.support import seam

NAME = "www.example.org."
UPSTREAM = seam.answer(
    NAME,
    "A",
    [f"{NAME} 300 IN A 192.0.2.1", f"{NAME} 120 IN A 192.0.2.2"],
    additional=[f"{NAME} 600 IN TXT hello"],
)


def make(
    script: seam.Script | wire.Answer = UPSTREAM, **opts: object
) -> tuple[handler.Cache, seam.Next, seam.Clock]:
    clock = seam.Clock()
    nxt = seam.Next(script)
    settings = dataclasses.replace(options.Options(zones=(".",)), **opts)  # type: ignore[arg-type]
    return handler.Cache(nxt, settings, clock=clock, registry=stats.Registry()), nxt, clock


def ask(cache: handler.Cache, req: Request) -> wire.Answer:
    answer = cache.serve(req)
    assert isinstance(answer, wire.Answer)
    return answer


def test_miss_then_hit_reaches_next_once() -> None:
    cache, nxt, _ = make()
    first = seam.reply(req := seam.request(NAME), ask(cache, req))
    second = seam.reply(req2 := seam.request(NAME, qid=77), ask(cache, req2))
    assert nxt.calls == 1
    assert second.id == 77
    assert [str(r) for r in second.answer] == [str(r) for r in first.answer]
    assert cache.stats.snapshot()["hits_success"] == 1
    assert cache.stats.misses == 1


def test_ttls_are_capped_to_the_lowest_and_count_down() -> None:
    cache, nxt, clock = make()
    req = seam.request(NAME)
    # The miss reply already carries the duration chosen: the lowest TTL, on every record.
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [120, 120]
    clock.advance(0.9)
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [120, 120]
    clock.advance(10.2)
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [109, 109]
    clock.advance(108.5)
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [1, 1]
    assert nxt.calls == 1
    clock.advance(0.5)  # 120 s after storing: expired, asked again
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [120, 120]
    assert nxt.calls == 2


def test_same_second_serves_the_same_rendered_reply() -> None:
    cache, _, clock = make()
    req = seam.request(NAME)
    ask(cache, req)
    clock.advance(3.1)
    a = ask(cache, req)
    clock.advance(0.5)
    assert ask(cache, req) is a
    clock.advance(0.5)
    assert ask(cache, req) is not a


def test_max_ttl_caps_and_min_ttl_raises() -> None:
    cache, _, _ = make(success_ttl=60)
    req = seam.request(NAME)
    assert set(seam.ttls(seam.reply(req, ask(cache, req)))) == {60}
    short = seam.answer(NAME, "A", [f"{NAME} 1 IN A 192.0.2.1"])
    cache, nxt, clock = make(short)
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [5]
    clock.advance(4.5)
    ask(cache, req)
    assert nxt.calls == 1


def test_zero_min_ttl_and_zero_ttl_record_is_not_cached() -> None:
    zero = seam.answer(NAME, "A", [f"{NAME} 0 IN A 192.0.2.1"])
    cache, nxt, _ = make(zero, success_min_ttl=0)
    req = seam.request(NAME)
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [0]
    ask(cache, req)
    assert nxt.calls == 2


def test_keepttl_serves_the_stored_ttl() -> None:
    cache, _, clock = make(keepttl=True)
    req = seam.request(NAME)
    ask(cache, req)
    clock.advance(100.3)
    assert seam.ttls(seam.reply(req, ask(cache, req))) == [120, 120]


def test_key_is_case_insensitive_and_holds_type_and_class() -> None:
    cache, nxt, _ = make(lambda req: UPSTREAM)
    ask(cache, seam.request("WWW.Example.ORG."))
    reply = seam.reply(req := seam.request("www.example.org."), ask(cache, req))
    assert nxt.calls == 1
    assert reply.question[0].name.to_text() == "www.example.org."  # the client's own case
    ask(cache, seam.request(NAME, "AAAA"))
    ask(cache, seam.request(NAME, rdclass="CH"))
    assert nxt.calls == 3


@pytest.mark.parametrize(
    ("first", "second"),
    [({}, {"do": True}), ({}, {"cd": True}), ({"do": True}, {"do": True, "cd": True})],
)
def test_do_and_cd_bits_are_part_of_the_key(
    first: dict[str, bool], second: dict[str, bool]
) -> None:
    cache, nxt, _ = make()
    ask(cache, seam.request(NAME, **first))
    ask(cache, seam.request(NAME, **second))
    assert nxt.calls == 2
    ask(cache, seam.request(NAME, **second))
    ask(cache, seam.request(NAME, **first))
    assert nxt.calls == 2


def test_edns_without_do_shares_the_plain_entry_and_gets_its_own_opt() -> None:
    cache, nxt, _ = make()
    ask(cache, seam.request(NAME))
    req = seam.request(NAME, edns=True)
    reply = seam.reply(req, ask(cache, req))
    assert nxt.calls == 1
    assert reply.edns == 0  # OPT is not cached: the core appends the client's own


def test_ad_bit_only_for_clients_that_asked_with_do_or_ad() -> None:
    cache, _, _ = make(seam.answer(NAME, "A", [f"{NAME} 60 IN A 192.0.2.1"], ad=True))
    plain = seam.request(NAME, edns=True)
    assert not seam.reply(plain, ask(cache, plain)).flags & dns.flags.AD
    assert not seam.reply(plain, ask(cache, plain)).flags & dns.flags.AD
    with_ad = seam.request(NAME, ad=True)
    assert seam.reply(with_ad, ask(cache, with_ad)).flags & dns.flags.AD


def test_truncated_and_server_written_errors_are_not_cached() -> None:
    truncated = seam.answer(NAME, "A", [f"{NAME} 60 IN A 192.0.2.1"])
    truncated.flags |= wire.TC << 8
    for upstream in (
        truncated,
        wire.Answer.failure(wire.REFUSED),
        wire.Answer.failure(wire.SERVFAIL, "plugin/forward: i/o timeout"),
        seam.answer(NAME, "A", rcode=wire.REFUSED),
        seam.answer(NAME, "AXFR", [seam.soa("example.org.")]),
    ):
        cache, nxt, _ = make(upstream)
        req = seam.request(NAME, "AXFR" if upstream.ancount and upstream.body else "A")
        assert ask(cache, req) is upstream
        assert ask(cache, req) is upstream
        assert nxt.calls == 2, upstream
        assert cache.stats.entries("success") == cache.stats.entries("denial") == 0


def test_unreadable_reply_is_dropped_and_counted() -> None:
    bad = wire.Answer(rcode=wire.NOERROR, body=b"\x03abc", counts=(1, 0, 0), flags=wire.QR << 8)
    cache, _nxt, _ = make(bad)
    assert ask(cache, seam.request(NAME)) is bad
    assert cache.stats.drops == 1


def test_referral_is_cached_as_success() -> None:
    referral = seam.answer(
        "a.sub.example.org.",
        "A",
        authority=["sub.example.org. 100 IN NS ns.sub.example.org."],
        additional=["ns.sub.example.org. 100 IN A 192.0.2.53"],
    )
    cache, nxt, _ = make(referral)
    req = seam.request("a.sub.example.org.")
    ask(cache, req)
    reply = seam.reply(req, ask(cache, req))
    assert nxt.calls == 1
    # As CoreDNS's MinimalTTL: a referral is kept for the minimal default TTL, not its NS TTL.
    assert seam.ttls(reply) == [5, 5]
    assert cache.stats.entries("success") == 1


def test_capacity_evicts_at_random_and_counts() -> None:
    cache, _nxt, _ = make(lambda req: UPSTREAM, success_capacity=3)
    for i in range(10):
        ask(cache, seam.request(f"n{i}.example.org."))
    assert cache.stats.entries("success") == 3
    assert cache.stats.evictions("success") == 7
    hits = sum(1 for i in range(10) if cache.success.lookup(seam.request(f"n{i}.example.org.").key))
    assert hits == 3


def test_success_capacity_zero_disables_positive_caching() -> None:
    cache, nxt, _ = make(success_capacity=0)
    req = seam.request(NAME)
    assert ask(cache, req) is UPSTREAM  # passed through as is, TTLs untouched
    ask(cache, req)
    assert nxt.calls == 2


def test_disable_success_for_a_zone() -> None:
    cache, nxt, _ = make(lambda req: UPSTREAM, disable_success=("example.org.",))
    for _ in range(2):
        ask(cache, seam.request(NAME))
        ask(cache, seam.request("www.example.net."))
    assert nxt.calls == 3


def test_only_the_cache_zones_are_cached() -> None:
    clock = seam.Clock()
    nxt = seam.Next(lambda req: UPSTREAM)
    opts = options.Options(zones=("example.org.",))
    cache = handler.Cache(nxt, opts, block_zones=(".",), clock=clock, registry=stats.Registry())
    for _ in range(2):
        ask(cache, seam.request("a.example.org."))
        ask(cache, seam.request("example.org."))
        ask(cache, seam.request("xexample.org."))
        ask(cache, seam.request("www.example.net."))
    assert nxt.calls == 6
    assert cache.stats.requests == 4  # out-of-zone queries pass without counting


def test_block_zones_inside_the_cache_zones_need_no_check() -> None:
    opts = options.Options(zones=("org.",))
    cache = handler.Cache(seam.Next(UPSTREAM), opts, block_zones=("example.org.", "a.org."))
    assert cache._zones is None
    cache = handler.Cache(seam.Next(UPSTREAM), opts, block_zones=("example.org.", "."))
    assert cache._zones is not None


def test_newest_answer_wins_between_positive_and_negative() -> None:
    nxdomain = seam.answer(
        NAME, "A", rcode=wire.NXDOMAIN, authority=[seam.soa("example.org.", minimum=60)]
    )
    replies = iter([UPSTREAM, nxdomain])
    cache, nxt, clock = make(lambda req: next(replies))
    req = seam.request(NAME)
    ask(cache, req)
    clock.advance(200)  # the positive entry (120 s) expired
    assert ask(cache, req).rcode == wire.NXDOMAIN
    assert cache.stats.entries("success") == 0  # dropped: it cannot come back via stale
    assert ask(cache, req).rcode == wire.NXDOMAIN
    assert nxt.calls == 2


def test_awaitable_next_is_stored_on_the_way_back() -> None:
    import asyncio

    async def run() -> None:
        cache, nxt, _ = make(lambda req: seam.later(UPSTREAM))
        req = seam.request(NAME)
        pending = cache.serve(req)
        assert not isinstance(pending, wire.Answer)
        first = await pending  # type: ignore[misc]
        assert seam.ttls(seam.reply(req, first)) == [120, 120]
        assert isinstance(cache.serve(req), wire.Answer)
        assert nxt.calls == 1

    asyncio.run(run())

"""Cache counters per server label, exported as CoreDNS's coredns_cache_* families, kept across
reloads (coredns/coredns#2142); and the ``plugin`` label of the replies the cache writes."""

from __future__ import annotations

from kdns import wire
from kdns.plugins.cache import handler, options, stats
from kdns.request import Request
from tests.support import seam

NAME = "www.example.org."
SERVER = "dns://:53"
UPSTREAM = seam.answer(NAME, "A", [f"{NAME} 30 IN A 192.0.2.1"])
UPSTREAM.plugin = "forward"
NXDOMAIN = seam.answer(
    "nope.example.org.", "A", rcode=wire.NXDOMAIN, authority=[seam.soa("example.org.")]
)


def request(name: str = NAME, server: str = SERVER) -> Request:
    req = seam.request(name)
    req.server = server
    return req


def script(req: Request) -> wire.Answer:
    return NXDOMAIN if req.name.startswith("nope") else UPSTREAM


def make(registry: stats.Registry, clock: seam.Clock, **opts: object) -> handler.Cache:
    settings = options.Options(zones=("example.org.", "example.net."), **opts)  # type: ignore[arg-type]
    return handler.Cache(seam.Next(script), settings, clock=clock, registry=registry)


def ask(cache: handler.Cache, req: Request) -> wire.Answer:
    answer = cache.serve(req)
    assert isinstance(answer, wire.Answer)
    return answer


def test_replies_carry_the_plugin_that_wrote_them() -> None:
    cache = make(stats.Registry(), clock := seam.Clock(), stale=60.0)
    assert ask(cache, request()).plugin == "forward"  # the miss: forward wrote it
    assert ask(cache, request()).plugin == "cache"
    clock.advance(31)
    assert ask(cache, request()).plugin == "cache"  # stale


def test_counters_are_kept_per_server_label() -> None:
    registry = stats.Registry()
    cache = make(registry, seam.Clock())
    for _ in range(3):
        ask(cache, request())
    ask(cache, request(server="dns://127.0.0.1:1053"))
    ask(cache, request("nope.example.org."))
    ask(cache, request("nope.example.org."))
    main = cache.stats_for(SERVER).snapshot()
    assert main["requests"] == 5
    assert (main["hits_success"], main["hits_denial"], main["misses"]) == (2, 1, 2)
    assert main["entries_success"] == main["entries_denial"] == 1
    other = cache.stats_for("dns://127.0.0.1:1053").snapshot()
    assert (other["requests"], other["hits_success"]) == (1, 1)


def test_export_fills_coredns_families() -> None:
    registry = stats.Registry()
    cache = make(registry, clock := seam.Clock(), success_capacity=1, stale=60.0)
    ask(cache, request())
    ask(cache, request())
    ask(cache, request("other.example.org."))  # evicts www
    clock.advance(31)
    ask(cache, request("other.example.org."))  # stale
    stats.export(registry)
    zones = "example.org.,example.net."
    plain = (SERVER, zones, "")
    assert stats.REQUESTS.values[plain] == 4
    assert stats.MISSES.values[plain] == 2
    assert stats.SERVED_STALE.values[plain] == 1
    assert stats.PREFETCH.values[plain] == 0
    assert stats.DROPS.values[plain] == 0
    assert stats.HITS.values[(SERVER, "success", zones, "")] == 2
    assert stats.HITS.values[(SERVER, "denial", zones, "")] == 0
    assert stats.EVICTIONS.values[(SERVER, "success", zones, "")] == 1
    assert stats.ENTRIES.values[(SERVER, "success", zones, "")] == 1
    assert stats.ENTRIES.values[(SERVER, "denial", zones, "")] == 0


def test_counts_survive_a_reload_and_entries_follow_the_new_cache() -> None:
    registry = stats.Registry()
    clock = seam.Clock()
    old = make(registry, clock)
    ask(old, request())
    ask(old, request())
    new = make(registry, clock)  # a reload builds a new chain around an empty cache
    ask(new, request("nope.example.org."))
    counters = new.stats_for(SERVER)
    assert counters is old.stats_for(SERVER)
    assert (counters.requests, counters.hits_success) == (3, 1)
    assert counters.entries("success") == 0 and counters.entries("denial") == 1


def test_the_process_registry_is_exported_at_scrape_time() -> None:
    from prometheus_client import generate_latest

    from kdns import metrics

    cache = handler.Cache(seam.Next(script), options.Options(zones=("scrape.test.",)))
    req = seam.request("a.scrape.test.")
    req.server = "dns://:5353"
    ask(cache, req)
    ask(cache, req)
    text = generate_latest(metrics.registry).decode()
    assert (
        'coredns_cache_hits_total{server="dns://:5353",type="success",'
        'view="",zones="scrape.test."} 1.0' in text
    )
    assert (
        'coredns_cache_requests_total{server="dns://:5353",view="",zones="scrape.test."} 2.0'
        in text
    )

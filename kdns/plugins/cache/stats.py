"""Counters of the caches, and the ``coredns_cache_*`` metrics made from them.

The serving path bumps plain integer attributes (no lock: every query runs in the event
loop's thread). There is one `Stats` per server label and cache zones, kept in a process-wide
`Registry` like CoreDNS's metric registry, so a reload of the Corefile does not reset the
counts (coredns/coredns#2142). When ``/metrics`` is scraped, `export` copies them into the
families of `kdns.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kdns import metrics

if TYPE_CHECKING:
    from kdns.plugins.cache.store import Store

SUCCESS = "success"
DENIAL = "denial"


class Replayed:
    """What UDP reader threads counted for replayed replies (``kdns.replay``): written by them
    only, never by the event loop, so neither side loses the other's increments."""

    __slots__ = ("hits_denial", "hits_success", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.hits_success = 0
        self.hits_denial = 0


class Stats:
    __slots__ = (
        "drops",
        "evictions_denial",
        "evictions_success",
        "hits_denial",
        "hits_success",
        "prefetch",
        "replayed",
        "requests",
        "served_stale",
        "server",
        "stores",
        "zones",
    )

    def __init__(self, server: str, zones: str) -> None:
        #: The ``server`` label: the listener, e.g. ``dns://:53``.
        self.server = server
        #: The ``zones`` label: the cache's zones, comma-separated, as CoreDNS labels them.
        self.zones = zones
        #: The stores of the cache that serves this server now (for the entries gauge).
        self.stores: dict[str, Store] = {}
        #: Queries for the cache's zones (``coredns_cache_requests_total``).
        self.requests = 0
        #: Fresh or stale answers from the success cache (``hits_total{type="success"}``).
        self.hits_success = 0
        #: Fresh or stale answers from the denial cache (``hits_total{type="denial"}``).
        self.hits_denial = 0
        #: Refreshes started before an entry expired (``coredns_cache_prefetch_total``).
        self.prefetch = 0
        #: Answers served from expired entries (``coredns_cache_served_stale_total``).
        self.served_stale = 0
        #: Replies not stored because they could not be read (``coredns_cache_drops_total``).
        self.drops = 0
        #: Entries evicted to make room (``coredns_cache_evictions_total{type}``).
        self.evictions_success = 0
        self.evictions_denial = 0
        #: Replayed replies, counted apart and added in ``total``.
        self.replayed = Replayed()

    def total(self, field: str) -> int:
        """``requests``, ``hits_success`` or ``hits_denial``, replayed replies included."""
        return int(getattr(self, field)) + int(getattr(self.replayed, field))

    @property
    def misses(self) -> int:
        """``coredns_cache_misses_total``: requests that were not hits."""
        return self.total("requests") - self.total("hits_success") - self.total("hits_denial")

    def entries(self, kind: str) -> int:
        """``coredns_cache_entries{type=kind}``."""
        store = self.stores.get(kind)
        return 0 if store is None else len(store)

    def evictions(self, kind: str) -> int:
        return self.evictions_success if kind == SUCCESS else self.evictions_denial

    def snapshot(self) -> dict[str, int]:
        """Every counter by name, for tests and debugging."""
        return {
            "requests": self.total("requests"),
            "hits_success": self.total("hits_success"),
            "hits_denial": self.total("hits_denial"),
            "misses": self.misses,
            "prefetch": self.prefetch,
            "served_stale": self.served_stale,
            "drops": self.drops,
            "entries_success": self.entries(SUCCESS),
            "entries_denial": self.entries(DENIAL),
            "evictions_success": self.evictions_success,
            "evictions_denial": self.evictions_denial,
        }


class Registry:
    """`Stats` by (server, zones)."""

    def __init__(self) -> None:
        self._stats: dict[tuple[str, str], Stats] = {}

    def get(self, server: str, zones: str) -> Stats:
        found = self._stats.get((server, zones))
        if found is None:
            found = self._stats[(server, zones)] = Stats(server, zones)
        return found

    def __iter__(self) -> Iterator[Stats]:
        return iter(list(self._stats.values()))


#: The process-wide registry; tests give their caches a registry of their own.
REGISTRY = Registry()

_TYPED = ("server", "type", "zones", "view")
_PLAIN = ("server", "zones", "view")
ENTRIES = metrics.family(
    "coredns_cache_entries", "The number of elements in the cache.", _TYPED, kind="gauge"
)
REQUESTS = metrics.family("coredns_cache_requests_total", "The count of cache requests.", _PLAIN)
HITS = metrics.family("coredns_cache_hits_total", "The count of cache hits.", _TYPED)
MISSES = metrics.family(
    "coredns_cache_misses_total",
    "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.",
    _PLAIN,
)
PREFETCH = metrics.family(
    "coredns_cache_prefetch_total",
    "The number of times the cache has prefetched a cached item.",
    _PLAIN,
)
DROPS = metrics.family(
    "coredns_cache_drops_total",
    "The number responses that are not cached, because the reply is malformed.",
    _PLAIN,
)
SERVED_STALE = metrics.family(
    "coredns_cache_served_stale_total",
    "The number of requests served from stale cache entries.",
    _PLAIN,
)
EVICTIONS = metrics.family("coredns_cache_evictions_total", "The count of cache evictions.", _TYPED)


def export(registry: Registry = REGISTRY) -> None:
    """Copy every counter into its metric family; run before each scrape."""
    for s in registry:
        plain = (s.server, s.zones, "")
        REQUESTS.set(plain, s.total("requests"))
        MISSES.set(plain, s.misses)
        PREFETCH.set(plain, s.prefetch)
        DROPS.set(plain, s.drops)
        SERVED_STALE.set(plain, s.served_stale)
        for kind, hits, evictions in (
            (SUCCESS, s.total("hits_success"), s.evictions_success),
            (DENIAL, s.total("hits_denial"), s.evictions_denial),
        ):
            typed = (s.server, kind, s.zones, "")
            HITS.set(typed, hits)
            EVICTIONS.set(typed, evictions)
            ENTRIES.set(typed, s.entries(kind))


metrics.on_collect(export)

"""Counters of one cache, for the ``coredns_cache_*`` metrics.

Plain integer attributes bumped on the serving path (an attribute increment, no lock: every
query runs in the event loop's thread); the prometheus plugin reads them when scraped. Entry
counts and evictions live on the stores and are read through `Stats.entries`/`evictions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kdns.plugins.cache.store import Store

SUCCESS = "success"
DENIAL = "denial"


class Stats:
    __slots__ = (
        "_stores",
        "drops",
        "hits_denial",
        "hits_success",
        "prefetch",
        "requests",
        "served_stale",
        "zones",
    )

    def __init__(self, *, zones: tuple[str, ...], success: Store, denial: Store) -> None:
        #: The ``zones`` metric label: the cache's zones, comma-separated (CoreDNS's label).
        self.zones = ",".join(zones)
        self._stores = {SUCCESS: success, DENIAL: denial}
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

    @property
    def misses(self) -> int:
        """``coredns_cache_misses_total``: requests that were not hits."""
        return self.requests - self.hits_success - self.hits_denial

    def entries(self, kind: str) -> int:
        """``coredns_cache_entries{type=kind}``."""
        return len(self._stores[kind])

    def evictions(self, kind: str) -> int:
        """``coredns_cache_evictions_total{type=kind}``."""
        return self._stores[kind].evictions

    def snapshot(self) -> dict[str, int]:
        """Every counter by name, for tests and debugging."""
        return {
            "requests": self.requests,
            "hits_success": self.hits_success,
            "hits_denial": self.hits_denial,
            "misses": self.misses,
            "prefetch": self.prefetch,
            "served_stale": self.served_stale,
            "drops": self.drops,
            "entries_success": self.entries(SUCCESS),
            "entries_denial": self.entries(DENIAL),
            "evictions_success": self.evictions(SUCCESS),
            "evictions_denial": self.evictions(DENIAL),
        }

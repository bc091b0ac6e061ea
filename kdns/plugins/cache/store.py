"""A capacity-bounded map of entries with random eviction, as CoreDNS's cache evicts.

``cachetools.RRCache`` does the bookkeeping: random replacement needs none on a read, so the
serving path reads the mapping with ``get`` and no lock or order update. Evictions are counted
for the ``coredns_cache_evictions_total`` metric. Expired entries are not purged: they stay until
evicted or replaced, which is what lets ``serve_stale`` answer from them.
"""

from __future__ import annotations

from collections.abc import Callable

import cachetools

from kdns.plugins.cache.entry import Entry


class Store(cachetools.RRCache[bytes, Entry]):
    """Entries keyed by ``Query.key`` (plus a DO/CD byte); capacity 0 stores nothing."""

    def __init__(self, capacity: int) -> None:
        super().__init__(max(capacity, 1))
        self.capacity = capacity
        self.evictions = 0
        # A plain dict mirroring the cache, so that a read is one C-level ``dict.get`` (the
        # Mapping methods of cachetools cost five times that). Random replacement keeps no
        # per-read state, so reading the mirror misses nothing an RRCache read would do.
        self._index: dict[bytes, Entry] = {}
        self.lookup: Callable[[bytes], Entry | None] = self._index.get

    def __setitem__(self, key: bytes, value: Entry) -> None:
        super().__setitem__(key, value)  # may evict first, through __delitem__
        self._index[key] = value

    def __delitem__(self, key: bytes) -> None:
        super().__delitem__(key)
        del self._index[key]

    def clear(self) -> None:
        super().clear()
        self._index.clear()

    def popitem(self) -> tuple[bytes, Entry]:
        item: tuple[bytes, Entry] = super().popitem()
        self.evictions += 1
        return item

    def put(self, key: bytes, entry: Entry) -> None:
        if self.capacity > 0:
            self[key] = entry

    def drop(self, key: bytes) -> None:
        self.pop(key, None)

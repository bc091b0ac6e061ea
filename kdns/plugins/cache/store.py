"""A map of entries bounded in count and in bytes, with random eviction, as CoreDNS's cache evicts.

The count is CoreDNS's capacity (``success CAP``, ``denial CAP``). The bytes bound is kdns's
own: an upstream (or a client's own domain) can answer with replies up to 64 KiB over TCP, so
9,984 entries could otherwise hold over 600 MB. Each entry is charged for the three copies of
its body it may hold (the answer, its pieces between TTLs, the reply rendered for the current
second) plus a fixed overhead; an entry larger than the whole budget is not stored.

``cachetools.RRCache`` does the bookkeeping: random replacement needs none on a read, so the
serving path reads the mapping with ``get`` and no lock or order update. Evictions are counted
for the ``coredns_cache_evictions_total`` metric. Expired entries are not purged: they stay until
evicted or replaced, which is what lets ``serve_stale`` answer from them.
"""

from __future__ import annotations

from collections.abc import Callable

import cachetools

from kdns.plugins.cache.entry import Entry

#: Bytes one store may hold (a cache has two: success and denial).
MAX_BYTES = 32 << 20
#: What an entry costs beyond its body copies: key, entry object, tuples, dict slots.
ENTRY_OVERHEAD = 600


def cost(entry: Entry) -> int:
    return 3 * len(entry.answer.body or b"") + ENTRY_OVERHEAD


class Store(cachetools.RRCache[bytes, Entry]):
    """Entries keyed by ``Query.key`` (plus a DO/CD byte); capacity 0 stores nothing."""

    def __init__(self, capacity: int, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max(max_bytes, 1), getsizeof=cost)
        self.capacity = capacity
        self.evictions = 0
        # A plain dict mirroring the cache, so that a read is one C-level ``dict.get`` (the
        # Mapping methods of cachetools cost five times that). Random replacement keeps no
        # per-read state, so reading the mirror misses nothing an RRCache read would do.
        self._index: dict[bytes, Entry] = {}
        self.lookup: Callable[[bytes], Entry | None] = self._index.get

    def __setitem__(self, key: bytes, value: Entry) -> None:
        while key not in self._index and len(self._index) >= self.capacity:
            self.popitem()
        super().__setitem__(key, value)  # may evict first by bytes, through __delitem__
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
        if self.capacity > 0 and cost(entry) <= self.maxsize:
            self[key] = entry

    def drop(self, key: bytes) -> None:
        self.pop(key, None)

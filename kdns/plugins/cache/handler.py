"""Serving from the cache: a fresh hit is a dict lookup, a clock read and a memoized reply.

Positive (NOERROR, referral) and negative (NXDOMAIN, NODATA, SERVFAIL) replies live in two
stores, keyed by the query's ``key`` (lower-case wire name, QTYPE, QCLASS) plus one byte when
the query had DO or CD set, the bits CoreDNS keys on too. Storing a positive reply drops the
negative entry of the same key and storing NXDOMAIN/NODATA drops the positive one, so the newest
answer wins; a SERVFAIL drops nothing, and the positive store is read first, so a cached SERVFAIL
never shadows a servable positive entry (coredns/coredns#7956).

On a miss the reply is stored on its way back (``plugin.then``) and served with its TTLs capped
to the duration chosen, as CoreDNS does. Refreshes (prefetch, stale ``immediate``) run after the
answer is returned: inline when the next plugin answers at once, else as tracked tasks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from kdns import plugin, replay, wire
from kdns.pkg import dnsname, response
from kdns.plugins.cache import entry as entry_
from kdns.plugins.cache import stats as stats_
from kdns.plugins.cache.entry import Entry, without_ad
from kdns.plugins.cache.options import Options
from kdns.plugins.cache.store import Store
from kdns.request import Request

log = logging.getLogger("kdns.plugin.cache")

Clock = Callable[[], float]

#: Appended to the key of a query with DO (1), CD (2) or both (3) set.
_SUFFIX = (b"", b"\x01", b"\x02", b"\x03")
_TC = wire.TC << 8
_POSITIVE = (response.Type.NOERROR, response.Type.DELEGATION)
_NEGATIVE = (response.Type.NXDOMAIN, response.Type.NODATA)
#: RFC 8767 section 4: only these replies refresh an entry in ``verify`` mode.
_REFRESHED = (wire.NOERROR, wire.NXDOMAIN)


class Background:
    """The refreshes caches run after answering; tracked so that shutdown can cancel them."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Future[wire.Answer]] = set()

    def run(
        self, pending: Awaitable[wire.Answer], done: Callable[[wire.Answer | None], None]
    ) -> None:
        """Await ``pending`` in the background, then ``done(answer)``, or ``done(None)`` if it
        failed or there is no running loop to await it in."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            close = getattr(pending, "close", None)
            if close is not None:
                close()
            done(None)
            return
        task = asyncio.ensure_future(pending)
        self.tasks.add(task)

        def finished(t: asyncio.Future[wire.Answer]) -> None:
            self.tasks.discard(t)
            if t.cancelled():
                done(None)
                return
            err = t.exception()
            if err is not None:
                log.warning("plugin/cache: refresh failed: %s", err)
                done(None)
                return
            done(t.result())

        task.add_done_callback(finished)

    async def cancel(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class Cache:
    name = "cache"
    #: A miss passes on whatever the entries hold; what it passes back unstored does not
    #: depend on them, and replies of hits are leased per entry and second (``Entry.at``).
    lease = replay.PURE

    def __init__(
        self,
        next: plugin.Handler,
        opts: Options,
        *,
        block_zones: tuple[str, ...] = (".",),
        background: Background | None = None,
        clock: Clock = time.monotonic,
        registry: stats_.Registry = stats_.REGISTRY,
    ) -> None:
        self.next = next
        self.opts = opts
        self.clock = clock
        self.background = background if background is not None else Background()
        self.success = Store(opts.success_capacity)
        self.denial = Store(opts.denial_capacity)
        self.registry = registry
        #: ``Stats`` by server label, taken from the registry the first time a server asks.
        self._stats: dict[str, stats_.Stats] = {}
        self._zones_label = ",".join(opts.zones)
        self._get_success = self.success.lookup
        self._get_denial = self.denial.lookup
        #: None when every query reaching this block is in the cache's zones (no check needed).
        self._zones = None if _covers(opts.zones, block_zones) else _wire_set(opts.zones)
        self._disable_success = _wire_set(opts.disable_success)
        self._disable_denial = _wire_set(opts.disable_denial)
        self._stale = opts.stale
        self._prefetch = opts.prefetch
        #: The plain hit path applies: no prefetch bookkeeping, TTLs count down.
        self._plain = not opts.prefetch and not opts.keepttl

    # --- serving -------------------------------------------------------------------------------

    def serve(self, req: Request) -> plugin.Result:
        key = req.key
        if self._zones is not None and not dnsname.within_any(key[:-4], self._zones):
            return self.next.serve(req)
        flags = req.do + ((req.data[3] & wire.CD) >> 3)
        if flags:
            key += _SUFFIX[flags]
        stats = self._stats.get(req.server) or self.stats_for(req.server)
        stats.requests += 1
        now = self.clock()
        entry = self._get_success(key)
        if entry is not None and now < entry.expires and entry.live.alive:
            stats.hits_success += 1
            answer = entry.at(now) if self._plain else self._fresh(req, key, entry, now)
            return self._strip_ad(req, answer) if entry.ad else answer
        return self._not_fresh(req, key, entry, now, stats)

    def replay_counter(self, req: Request, answer: wire.Answer, size: int) -> replay.Counter:
        """Count each replay of ``answer`` as the query it repeats was counted."""
        if self._zones is not None and not dnsname.within_any(req.key[:-4], self._zones):
            return _uncounted
        replayed = self.stats_for(req.server).replayed
        if answer.plugin != entry_.PLUGIN:

            def passed(_seconds: float) -> None:
                replayed.requests += 1

            return passed
        hit = self._get_success(self._key(req))
        if hit is not None and hit.at(self.clock()) is answer:

            def success(_seconds: float) -> None:
                replayed.requests += 1
                replayed.hits_success += 1

            return success

        def denial(_seconds: float) -> None:
            replayed.requests += 1
            replayed.hits_denial += 1

        return denial

    @staticmethod
    def _key(req: Request) -> bytes:
        flags = req.do + ((req.data[3] & wire.CD) >> 3)
        return req.key + _SUFFIX[flags] if flags else req.key

    def stats_for(self, server: str) -> stats_.Stats:
        """The counters of ``server`` (a ``Request.server`` label); this cache's stores now
        back its entries gauge."""
        found = self._stats.get(server)
        if found is None:
            found = self._stats[server] = self.registry.get(server, self._zones_label)
            found.stores = {stats_.SUCCESS: self.success, stats_.DENIAL: self.denial}
        return found

    @property
    def stats(self) -> stats_.Stats:
        """The counters of queries without a server label (tests, internal lookups)."""
        return self.stats_for("")

    def _not_fresh(
        self, req: Request, key: bytes, entry: Entry | None, now: float, stats: stats_.Stats
    ) -> plugin.Result:
        stale = self._stale
        if entry is not None and not entry.live.alive:
            entry = None  # the data it was built from changed: never served again
        if entry is not None and stale and now < entry.expires + stale:
            stats.hits_success += 1
            return self._serve_stale(req, key, entry)
        entry = self._get_denial(key)
        if entry is not None and entry.live.alive:
            if now < entry.expires:
                stats.hits_denial += 1
                answer = self._fresh(req, key, entry, now)
                return self._strip_ad(req, answer) if entry.ad else answer
            # A stale SERVFAIL is no data to fall back on: ask again.
            if stale and not entry.servfail and now < entry.expires + stale:
                stats.hits_denial += 1
                return self._serve_stale(req, key, entry)
        return self._miss(req, key)

    def _fresh(self, req: Request, key: bytes, entry: Entry, now: float) -> wire.Answer:
        if self._prefetch and self._should_prefetch(entry, now) and self._refresh(req, key, entry):
            self._stats[req.server].prefetch += 1
        # keepttl: serve the TTL the entry was stored with (CoreDNS fakes ``now`` likewise).
        return entry.at(entry.stored if self.opts.keepttl else now)

    def _should_prefetch(self, entry: Entry, now: float) -> bool:
        hits = entry.touch(self.opts.prefetch_window, now)
        threshold = math.ceil(self.opts.prefetch_percentage / 100 * entry.ttl)
        left = entry.ttl - int(now - entry.stored)
        return hits >= self._prefetch and left <= threshold

    def _miss(self, req: Request, key: bytes) -> plugin.Result:
        result = self.next.serve(req)
        if type(result) is wire.Answer:
            return self._store(req, key, result)
        return plugin.then(result, lambda answer: self._store(req, key, answer))

    @staticmethod
    def _strip_ad(req: Request, answer: wire.Answer) -> wire.Answer:
        if req.do or req.data[3] & wire.AD:
            return answer
        return without_ad(answer)

    # --- storing -------------------------------------------------------------------------------

    def _store(self, req: Request, key: bytes, answer: wire.Answer) -> wire.Answer:
        """Keep ``answer`` if it may be cached; what to send the client either way."""
        if answer.body is None or answer.flags & _TC:
            return answer  # errors the server writes, and truncated replies, are never kept
        try:
            recs = response.records(answer)
            kind = response.typify(answer, req.qtype, recs)
        except ValueError:
            self.stats_for(req.server).drops += 1
            return answer
        opts = self.opts
        if kind in _POSITIVE:
            ttl = _bound(
                response.minimal_ttl(answer, kind, recs), opts.success_min_ttl, opts.success_ttl
            )
            store, other, disabled = self.success, self.denial, self._disable_success
        elif kind in _NEGATIVE:
            ttl = _bound(
                response.minimal_ttl(answer, kind, recs), opts.denial_min_ttl, opts.denial_ttl
            )
            store, other, disabled = self.denial, self.success, self._disable_denial
        elif kind is response.Type.SERVERERROR:
            ttl = int(opts.servfail_ttl)
            store, other, disabled = self.denial, None, self._disable_denial
        else:
            return answer
        if (
            ttl <= 0
            or store.capacity == 0
            or (disabled and dnsname.within_any(req.key[:-4], disabled))
        ):
            return answer
        now = self.clock()
        entry = Entry(
            answer, recs, stored=now, ttl=ttl, positive=store is self.success, leasing=self._plain
        )
        evicted = store.evictions
        store.put(key, entry)
        if store.evictions != evicted:
            stats = self.stats_for(req.server)
            if store is self.success:
                stats.evictions_success += store.evictions - evicted
            else:
                stats.evictions_denial += store.evictions - evicted
        if other is not None:
            other.drop(key)
        # This reply was written by the next plugin; hits are written by the cache.
        served = entry.first(now, plugin=answer.plugin)
        return self._strip_ad(req, served) if entry.ad else served

    # --- refreshing ----------------------------------------------------------------------------

    def _serve_stale(self, req: Request, key: bytes, entry: Entry) -> plugin.Result:
        if self.opts.verify:
            return self._verify(req, key, entry)
        self.stats_for(req.server).served_stale += 1
        self._refresh(req, key, entry)
        return self._stale_answer(req, entry)

    def _stale_answer(self, req: Request, entry: Entry) -> wire.Answer:
        answer = entry.stale()
        return self._strip_ad(req, answer) if entry.ad else answer

    def _refresh(self, req: Request, key: bytes, entry: Entry) -> bool:
        """Ask the next plugin again for ``entry``'s question, once at a time; True if started."""
        if entry.refreshing:
            return False
        entry.refreshing = True
        result = self._ask_next(req)
        if result is None or isinstance(result, wire.Answer):
            self._refreshed(req, key, entry, result)
        else:
            self.background.run(result, lambda answer: self._refreshed(req, key, entry, answer))
        return True

    def _refreshed(self, req: Request, key: bytes, old: Entry, answer: wire.Answer | None) -> None:
        old.refreshing = False
        if answer is None:
            return
        self._store(req, key, answer)
        new = self._get_success(key) or self._get_denial(key)
        if new is not None and new is not old:
            # Keep the popularity gathered so far (CoreDNS's ``Freq.Reset`` after a prefetch).
            new.hits = old.hits
            new.last = new.stored

    def _verify(self, req: Request, key: bytes, entry: Entry) -> plugin.Result:
        result = self._ask_next(req)
        if result is None or isinstance(result, wire.Answer):
            return self._verified(req, key, entry, result)
        return self._verify_bounded(req, key, entry, result)

    def _verified(
        self, req: Request, key: bytes, entry: Entry, answer: wire.Answer | None
    ) -> wire.Answer:
        if answer is not None and answer.body is not None and answer.rcode in _REFRESHED:
            return self._store(req, key, answer)
        self.stats_for(req.server).served_stale += 1
        return self._stale_answer(req, entry)

    async def _verify_bounded(
        self, req: Request, key: bytes, entry: Entry, pending: Awaitable[wire.Answer]
    ) -> wire.Answer:
        task = asyncio.ensure_future(pending)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.opts.verify_timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if done:
            answer = None
            if not task.cancelled() and task.exception() is None:
                answer = task.result()
            return self._verified(req, key, entry, answer)
        # Too slow: answer stale now, and let the verify finish in the background; a good reply
        # then refreshes the entry for the next client.
        self.background.run(task, lambda answer: self._late(req, key, answer))
        self.stats_for(req.server).served_stale += 1
        return self._stale_answer(req, entry)

    def _late(self, req: Request, key: bytes, answer: wire.Answer | None) -> None:
        if answer is not None and answer.body is not None and answer.rcode in _REFRESHED:
            self._store(req, key, answer)

    def _ask_next(self, req: Request) -> plugin.Result | None:
        try:
            return self.next.serve(req)
        except Exception:
            log.exception("plugin/cache: refreshing %r failed", req)
            return None


def _uncounted(_seconds: float) -> None:
    pass


def _bound(ttl: int, low: int, high: int) -> int:
    return min(max(ttl, low), high)


def _wire_set(zones: tuple[str, ...]) -> frozenset[bytes]:
    return frozenset(wire.text_to_name(z) for z in zones)


def _covers(zones: tuple[str, ...], block_zones: tuple[str, ...]) -> bool:
    """True when every block zone lies within one of ``zones``."""
    wires = _wire_set(zones)
    return all(dnsname.within_any(wire.text_to_name(z), wires) for z in block_zones)

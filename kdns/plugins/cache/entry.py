"""One cached reply: the stored bytes, and the same bytes with the TTLs it has left.

A reply is split once, when stored, into the pieces of its body between the TTL fields of its
records. Serving it with ``n`` seconds left is then one ``bytes.join`` of those pieces with ``n``
as the separator; the result is kept until the next second starts, so a hit is a dict lookup and
a comparison. As CoreDNS's ``item.toMsg``, every record gets the same TTL: what the item has left.

The reply of a second is leased (``kdns.replay``) until that second ends, under the lease of the
answer the entry was filled from: a kept reply replays with the right TTL only, and an answer of a
watch-fed plugin (kubernetes) that changes ends the entry's replies, and the entry (``live``).
"""

from __future__ import annotations

import asyncio

from kdns import replay, wire
from kdns.pkg import response

_ZERO = b"\x00\x00\x00\x00"
#: The ``plugin`` label of replies served from the cache (coredns_dns_responses_total).
PLUGIN = "cache"


class Entry:
    __slots__ = (
        "_memo",
        "_memo_elapsed",
        "_pieces",
        "_stale",
        "ad",
        "answer",
        "expires",
        "hits",
        "last",
        "leasing",
        "live",
        "positive",
        "refreshing",
        "servfail",
        "stored",
        "ttl",
    )

    def __init__(
        self,
        answer: wire.Answer,
        recs: list[response.Record],
        *,
        stored: float,
        ttl: int,
        positive: bool,
        leasing: bool = False,
    ) -> None:
        body = answer.body
        assert body is not None
        pieces = []
        offset = 0
        for rec in recs:
            pieces.append(body[offset : rec.ttl_at])
            offset = rec.ttl_at + 4
        pieces.append(body[offset:])
        self._pieces = tuple(pieces)
        self.answer = answer
        self.stored = stored
        #: Seconds the entry lives: the duration the cache chose (CoreDNS's ``origTTL``).
        self.ttl = ttl
        self.expires = stored + ttl
        self.positive = positive
        self.servfail = answer.rcode == wire.SERVFAIL
        #: The AD bit is only kept for clients that set DO or AD (RFC 6840 5.7-5.8).
        self.ad = bool(answer.flags & wire.AD)
        #: Prefetch popularity (CoreDNS's ``Freq``): hits without a gap of the prefetch duration.
        self.hits = 0
        self.last = stored
        #: A background refresh of this entry is in flight (one at a time per entry).
        self.refreshing = False
        self._memo_elapsed = -1
        self._memo = answer
        self._stale: wire.Answer | None = None
        #: What the stored answer was built from; once ended, the entry must not be served.
        self.live = answer.lease if answer.lease is not None else replay.PURE
        #: Replies of ``at`` are leased until their second ends (plain hits: no per-hit work).
        self.leasing = leasing

    def at(self, now: float) -> wire.Answer:
        """The reply with the TTL it has left at ``now`` (at least 1 while fresh)."""
        elapsed = int(now - self.stored)
        if elapsed == self._memo_elapsed:
            return self._memo
        answer = self._with_ttl(max(self.ttl - elapsed, 0))
        if self.leasing:
            answer.lease = self._until(self.stored + elapsed + 1 - now)
        self._memo_elapsed = elapsed
        self._memo = answer
        return answer

    def _until(self, delay: float) -> replay.Lease | None:
        """A lease of ``live`` that ends in ``delay`` seconds (None outside an event loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        lease = self.live.child()
        if lease.alive:
            loop.call_later(delay, lease.end)
        return lease

    def first(self, now: float, *, plugin: str) -> wire.Answer:
        """The reply of the query that filled the entry, labelled with the plugin that wrote it."""
        return self._with_ttl(max(self.ttl - int(now - self.stored), 0), plugin=plugin)

    def stale(self) -> wire.Answer:
        """The reply served from an expired entry: TTL 0, as CoreDNS serves stale answers."""
        answer = self._stale
        if answer is None:
            answer = self._stale = self._with_ttl(0)
        return answer

    def _with_ttl(self, ttl: int, *, plugin: str = PLUGIN) -> wire.Answer:
        a = self.answer
        sep = ttl.to_bytes(4, "big") if ttl else _ZERO
        return wire.Answer(
            rcode=a.rcode,
            body=sep.join(self._pieces),
            counts=(a.ancount, a.nscount, a.arcount),
            ends=a.ends,
            flags=a.flags,
            plugin=plugin,
        )

    def touch(self, window: float, now: float) -> int:
        """Count a hit for prefetch; a gap longer than ``window`` restarts the count."""
        if now - self.last > window:
            self.hits = 1
        else:
            self.hits += 1
        self.last = now
        return self.hits


def without_ad(answer: wire.Answer) -> wire.Answer:
    """``answer`` with the AD flag cleared, for a client that asked for neither DO nor AD."""
    return wire.Answer(
        rcode=answer.rcode,
        body=answer.body,
        counts=(answer.ancount, answer.nscount, answer.arcount),
        ends=answer.ends,
        flags=answer.flags & ~wire.AD,
        plugin=answer.plugin,
    )

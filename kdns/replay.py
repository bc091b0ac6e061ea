"""Replayed replies: whole UDP replies kept by query bytes, for queries asked again.

A reply may be kept only while everything it was built from stays the same, and the chain
says what that is with leases (``Lease``: one ``alive`` flag, ended once, never revived):

* Each chain link declares how its pass-on decisions change with an attribute ``lease``:
  ``PURE`` when they depend on the query alone (prometheus, errors, forward...), or the
  lease of the data they look at (hosts' and records' tables, loop until its probe is
  done), which the link ends whenever that data changes. A link without ``lease``, or with
  None (log, acl, autopath: per-query or per-client work), makes its route never replay.
  The route's lease (``RouteLease``) is a child of its links' leases.
* An answer carries ``Answer.lease``: what it was built from (a records table, one
  kubernetes entry, one cache entry until its TTL next ticks). None means "this reply is
  made per query" (forward, whoami) and is never kept. A link that passes a query on
  because of data of its own that the route lease does not cover (kubernetes falling
  through) hands on the answer under a child lease of both (``Answer.leased``).

The UDP listener keeps the reply minus its ID under the query minus its ID, with the two
leases, and its reader thread replays it while both are alive: two attribute reads. Ending
a lease ends its children, so one store event reaches exactly the replies built from it,
and a plugin cannot forget to invalidate: whatever it did not lease is never kept. A Corefile
reload clears the listener's table.

Memory is bounded in bytes for the whole process (``BUDGET``, shared by every listener):
each entry is charged its key, its reply and ``ENTRY_OVERHEAD``; a table that would go over
starts over, and queries or replies larger than ``MAX_KEY``/``MAX_REPLY`` are never kept.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kdns import metrics, wire

if TYPE_CHECKING:
    from kdns.request import Request
    from kdns.wire import Answer

#: Bytes all replay tables of the process may hold together (keys, replies, overhead).
BUDGET = 16 << 20
#: What one entry costs beyond its key and reply bytes (dict slot, tuple, two bytes objects).
ENTRY_OVERHEAD = 240
#: Queries longer than this are answered but never kept (a question plus OPT is far shorter).
MAX_KEY = 512
#: Replies longer than this are never kept (the default UDP reply cap).
MAX_REPLY = 1232

#: Called by the reader thread for every replayed reply, with its seconds spent; it
#: counts what the chain's counting plugins would have counted.
Counter = Callable[[float], None]
#: Asked by the reader thread before each replay, with the client's address: ``ALLOW``,
#: ``DROP`` (send nothing) or ``SLIP`` (send the kept slipped reply instead); rrl's accounts.
Gate = Callable[[tuple[str, int]], int]
ALLOW, DROP, SLIP = 0, 1, 2
#: A kept reply's gate and the reply tail a slip sends.
Gating = tuple[Gate, bytes]


class Lease:
    """Alive until ``end()``; ending it ends every child made ``under`` it."""

    __slots__ = ("__weakref__", "_children", "alive")

    def __init__(self) -> None:
        self.alive = True
        self._children: list[Lease] | None = None

    @classmethod
    def under(cls, *parents: Lease) -> Lease:
        """A lease that ends when any of ``parents`` ends (born dead if one already has).
        Nobody may end it but its parents: with one parent besides ``PURE``, that parent
        itself is returned, so that what a client can make many of adds nothing."""
        others = [p for p in parents if p is not PURE]
        if not others:
            return PURE
        if len(others) == 1:
            return others[0]
        return cls._under(others)

    def child(self) -> Lease:
        """A new lease, ended by its owner or when this one ends."""
        return Lease._under([self])

    @classmethod
    def _under(cls, parents: list[Lease]) -> Lease:
        child = cls()
        for parent in parents:
            if not parent.alive:
                child.alive = False
                return child
        for parent in parents:
            parent._adopt(child)
        return child

    def _adopt(self, child: Lease) -> None:
        if self is PURE:
            return
        children = self._children
        if children is None:
            self._children = [child]
            return
        children.append(child)
        if len(children) >= 64 and len(children) & (len(children) - 1) == 0:
            # A long-lived parent sheds children that ended through another parent.
            self._children = [c for c in children if c.alive]

    def end(self) -> None:
        if self is PURE:
            raise ValueError("PURE never ends")
        self.alive = False
        children, self._children = self._children, None
        while children:
            child = children.pop()
            if child.alive:
                child.end()


#: The lease of a link whose pass-on decisions depend on the query alone.
PURE = Lease()
#: A lease that has ended: what a link declares while it must see every query.
ENDED = Lease()
ENDED.alive = False


@runtime_checkable
class Leasing(Protocol):
    """A chain link that declares a lease (None: its route never replays)."""

    @property
    def lease(self) -> Lease | None: ...


@runtime_checkable
class ReplayCounting(Protocol):
    """A chain link that counts per query (prometheus, cache) and can count replays."""

    def replay_counter(self, req: Request, answer: Answer, size: int) -> Counter:
        """What to call for each replay of ``answer`` to ``req`` (a reply of ``size`` bytes)."""
        ...


def links(handler: object) -> Iterator[object]:
    """The handlers of a chain, first to last (each plugin holds the next as ``next``)."""
    while handler is not None:
        yield handler
        handler = getattr(handler, "next", None)


class RouteLease:
    """The lease of one route: alive while every link's declared lease is."""

    __slots__ = ("_current", "_links")

    def __init__(self, chain: list[Leasing]) -> None:
        self._links = chain
        self._current: Lease | None = None

    @classmethod
    def of(cls, handler: object) -> RouteLease | None:
        """None when some link does not declare a lease: the route never replays."""
        chain: list[Leasing] = []
        for link in links(handler):
            if not isinstance(link, Leasing) or link.lease is None:
                return None
            chain.append(link)
        return cls(chain)

    def current(self) -> Lease | None:
        """A live lease covering the links' data now, or None while some link's has ended."""
        found = self._current
        if found is not None and found.alive:
            return found
        parents: list[Lease] = []
        for link in self._links:
            lease = link.lease
            if lease is None:
                return None
            parents.append(lease)
        found = Lease.under(*parents)
        if not found.alive:
            return None
        self._current = found
        return found


def replayable(handler: object) -> bool:
    """True when every link of the chain declares a lease."""
    return RouteLease.of(handler) is not None


@runtime_checkable
class ReplayGating(Protocol):
    """A chain link that decides per client whether a reply goes out (rrl)."""

    def replay_gate(self, req: Request, answer: Answer) -> Gate | None:
        """The gate for replays of ``answer`` to ``req``'s query; None when it needs none."""
        ...


def slipped(answer: Answer) -> Answer:
    """``answer`` as a slip sends it: same rcode and flags, TC set, every section empty."""
    return wire.Answer(
        rcode=answer.rcode, body=b"", flags=answer.flags | (wire.TC << 8), plugin=answer.plugin
    )


def gating(handler: object) -> ReplayGating | None:
    """The link that gates replies per client, if the chain has one."""
    for link in links(handler):
        if isinstance(link, ReplayGating):
            return link
    return None


def counting(handler: object) -> ReplayCounting | None:
    """One counter for the links that count per query, if the chain has any."""
    counters = [link for link in links(handler) if isinstance(link, ReplayCounting)]
    if not counters:
        return None
    if len(counters) == 1:
        return counters[0]
    return _Counters(counters)


class _Counters:
    def __init__(self, counters: list[ReplayCounting]) -> None:
        self.counters = counters

    def replay_counter(self, req: Request, answer: Answer, size: int) -> Counter:
        each = [c.replay_counter(req, answer, size) for c in self.counters]

        def count(seconds: float) -> None:
            for c in each:
                c(seconds)

        return count


Entry = tuple[bytes, Counter | None, Lease, Lease, "Gating | None"]


class _Budget:
    """Bytes held by all tables (changed by event loops' threads only)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0


_BUDGET = _Budget()


def cost(key: bytes, reply: bytes) -> int:
    return len(key) + len(reply) + ENTRY_OVERHEAD


class Table:
    """Reply tails (everything after the ID) by query tail, for one listener.

    Written by the event loop's thread, read by the listener's reader thread: single
    dict operations only, each atomic under the GIL.
    """

    __slots__ = ("__weakref__", "bytes", "get", "get_turn", "replies", "turns")

    def __init__(self) -> None:
        self.replies: dict[bytes, Entry] = {}
        self.get = self.replies.get
        #: Round robins (loadbalance): looked up only when ``replies`` has nothing.
        self.turns: dict[bytes, tuple[Turn, Counter | None, Lease, Lease, Gating | None]] = {}
        self.get_turn = self.turns.get
        #: Bytes this table is charged for.
        self.bytes = 0
        _TABLES.add(self)

    def __len__(self) -> int:
        return len(self.replies)

    def put(
        self,
        query: bytes,
        reply: bytes,
        counter: Counter | None,
        route: Lease,
        own: Lease,
        gate: Gating | None = None,
    ) -> bool:
        """Keep ``reply`` for ``query`` while ``route`` and ``own`` live; False if not kept."""
        if len(query) > MAX_KEY or len(reply) > MAX_REPLY:
            return False
        key = query[2:]
        tail = reply[2:]
        self._forget(key)
        charge = cost(key, tail)
        self._make_room(charge)
        self.replies[key] = (tail, counter, route, own, gate)
        self._charge(charge)
        return True

    def put_turn(
        self,
        query: bytes,
        replies: list[bytes],
        counter: Counter | None,
        route: Lease,
        own: Lease,
        gate: Gating | None = None,
    ) -> bool:
        """Keep a round robin of ``replies`` for ``query``: each replay sends the next."""
        if len(query) > MAX_KEY or any(len(r) > MAX_REPLY for r in replies):
            return False
        key = query[2:]
        tails = tuple(r[2:] for r in replies)
        self._forget(key)
        charge = len(key) + sum(map(len, tails)) + ENTRY_OVERHEAD * len(tails)
        self._make_room(charge)
        self.turns[key] = (Turn(tails), counter, route, own, gate)
        self._charge(charge)
        return True

    def _forget(self, key: bytes) -> None:
        old = self.replies.pop(key, None)
        if old is not None:
            self._charge(-cost(key, old[0]))
        turn = self.turns.pop(key, None)
        if turn is not None:
            tails = turn[0].tails
            self._charge(-(len(key) + sum(map(len, tails)) + ENTRY_OVERHEAD * len(tails)))

    def _make_room(self, charge: int) -> None:
        if _BUDGET.used + charge > BUDGET:
            self.clear()
            if _BUDGET.used + charge > BUDGET:
                for table in list(_TABLES):
                    table.clear()

    def _charge(self, amount: int) -> None:
        self.bytes += amount
        _BUDGET.used += amount

    def clear(self) -> None:
        self.replies.clear()
        self.turns.clear()
        _BUDGET.used -= self.bytes
        self.bytes = 0

    def __del__(self) -> None:
        _BUDGET.used -= self.bytes


_TABLES: weakref.WeakSet[Table] = weakref.WeakSet()


class Turn:
    """Reply tails handed out in turn; only the listener's reader thread calls ``next``."""

    __slots__ = ("at", "tails")

    def __init__(self, tails: tuple[bytes, ...]) -> None:
        self.tails = tails
        self.at = -1

    def next(self) -> bytes:
        at = (self.at + 1) % len(self.tails)
        self.at = at
        return self.tails[at]


def held() -> tuple[int, int]:
    """Bytes and entries held by every table of the process."""
    tables = list(_TABLES)
    return _BUDGET.used, sum(len(t) + len(t.turns) for t in tables)


REPLAY_BYTES = metrics.family(
    "kdns_replay_bytes",
    "Bytes held by the UDP replay tables (keys, replies and per-entry overhead).",
    (),
    kind="gauge",
)
REPLAY_ENTRIES = metrics.family(
    "kdns_replay_entries", "Replies kept by the UDP replay tables.", (), kind="gauge"
)


def _refresh_gauges() -> None:
    used, entries = held()
    REPLAY_BYTES.set((), used)
    REPLAY_ENTRIES.set((), entries)


metrics.on_collect(_refresh_gauges)

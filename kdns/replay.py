"""Replayed replies: whole UDP replies kept by query bytes, for queries asked again.

A static answer (``Answer.static``: records, cached kubernetes answers) is a pure
function of the query's bytes for as long as its plugin's data does not change. When
such an answer leaves a chain in which no plugin looks at anything but the query or
does anything per query (``replay_safe`` on every link; ``log``, ``acl``, ``cache``,
``autopath`` and ``loop`` are not), the UDP listener keeps the reply minus its ID under
the query minus its ID, and answers the next identical query from its reader thread
without building a Request, matching a zone or walking the chain.

Correctness rests on one rule: a plugin that hands out static answers calls
``invalidate()`` whenever its data changes (records reload, a Kubernetes store change),
and a listener forgets its replies when it is re-pointed at a new configuration. Every
table is cleared then; the next query of each name takes the full path once and is kept
again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kdns.request import Request
    from kdns.wire import Answer

#: Replies kept per listener; the table starts over when full (a flood of distinct
#: names then costs one full-path query each, never unbounded memory).
MAX_ENTRIES = 20_000

#: Called by the reader thread for every replayed reply, with its seconds spent; it
#: counts what the chain's metrics plugin would have counted.
Counter = Callable[[float], None]


class ReplayCounting(Protocol):
    """A chain link that counts per query (prometheus) and can count replayed replies."""

    def replay_counter(self, req: Request, answer: Answer, size: int) -> Counter:
        """What to call for each replay of ``answer`` to ``req`` (a reply of ``size`` bytes)."""
        ...


class Table:
    """Reply tails (everything after the ID) by query tail, for one listener.

    Written by the event loop's thread, read by the listener's reader thread: single
    dict operations only, each atomic under the GIL.
    """

    __slots__ = ("__weakref__", "get", "replies")

    def __init__(self) -> None:
        self.replies: dict[bytes, tuple[bytes, Counter | None]] = {}
        self.get = self.replies.get
        _TABLES.add(self)

    def __len__(self) -> int:
        return len(self.replies)

    def put(self, query: bytes, reply: bytes, counter: Counter | None) -> None:
        if len(self.replies) >= MAX_ENTRIES:
            self.replies.clear()
        self.replies[query[2:]] = (reply[2:], counter)

    def clear(self) -> None:
        self.replies.clear()


_TABLES: weakref.WeakSet[Table] = weakref.WeakSet()


def invalidate() -> None:
    """Forget every kept reply (a plugin's data changed)."""
    for table in list(_TABLES):
        table.clear()


def links(handler: object) -> Iterator[object]:
    """The handlers of a chain, first to last (each plugin holds the next as ``next``)."""
    while handler is not None:
        yield handler
        handler = getattr(handler, "next", None)


def replayable(handler: object) -> bool:
    """True when every link of the chain declares ``replay_safe``."""
    return all(getattr(link, "replay_safe", False) for link in links(handler))


def counting(handler: object) -> ReplayCounting | None:
    """The link that counts per query, if the chain has one."""
    for link in links(handler):
        if hasattr(link, "replay_counter"):
            return link  # type: ignore[return-value]
    return None

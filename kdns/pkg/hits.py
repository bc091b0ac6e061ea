"""A handler that answers from pre-rendered hits, its table swapped whole when its data changes.

``records``, ``file`` and ``hosts`` render every answer they can when they load: the handler
holds the current table and its ``hits`` dict directly, so a hit costs one ``dict.get`` on the
query's key. A reload swaps both references (``install``) in the event loop's thread, between
two queries, so a query always sees one version of the data, and ends the lease of every reply
built from the old table.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from kdns import plugin, replay, wire
from kdns.request import Request


class HasHits(Protocol):
    @property
    def hits(self) -> dict[bytes, wire.Answer]: ...


T = TypeVar("T", bound=HasHits)


class HitTable(Generic[T]):
    """Serves ``table.hits``; a subclass answers the rest in ``_miss``."""

    name = "hits"

    def __init__(self, next: plugin.Handler, table: T) -> None:
        self.next = next
        #: What answers and pass-on decisions depend on: the table; ended when it is replaced.
        self.lease = replay.Lease()
        self.install(table)

    def install(self, table: T) -> None:
        """Serve ``table`` from the next query on; replies built from the old one end."""
        self._hits = table.hits
        self.table = table
        self.lease.end()
        self.lease = replay.Lease()

    def serve(self, req: Request) -> plugin.Result:
        answer = self._hits.get(req.key)
        if answer is not None:
            return answer
        return self._miss(req)

    def _miss(self, req: Request) -> plugin.Result:
        return self.next.serve(req)

"""Serving a zone table: a hit is one dict lookup; everything else goes through the table's memo.

The handler holds the current ``answers.Table`` and its ``hits`` dict directly, so a hit costs
one ``dict.get`` on the query's key. A reload swaps both references (``install``) in the event
loop's thread, between two queries, so a query always sees one version of the records.
"""

from __future__ import annotations

from kdns import plugin, replay
from kdns.authority import answers
from kdns.request import Request


class Authority:
    """The handler of records and file: a subclass names the plugin."""

    name = "authority"

    def __init__(self, next: plugin.Handler, table: answers.Table) -> None:
        self.next = next
        #: What answers and pass-on decisions depend on: the table; ended when it is replaced.
        self.lease = replay.Lease()
        self.install(table)

    def install(self, table: answers.Table) -> None:
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
        key = req.key
        answer = self.table.answer(key, key[:-4], req.qtype)
        if answer is None or answer is answers.NEXT:
            return self.next.serve(req)
        return answer

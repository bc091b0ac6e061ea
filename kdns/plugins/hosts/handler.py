"""Serving hosts entries: a hit is one dict lookup in the current table.

What misses the table follows CoreDNS's ``hosts.go``: a PTR query for an address without an
entry always goes to the next plugin; a name outside the plugin's zones too; a name that exists
(it has an A or AAAA entry) gets an empty authoritative NOERROR for any other type; a name that
does not exist goes to the next plugin under ``fallthrough``, and is otherwise SERVFAIL, because
without an SOA there is no NXDOMAIN to give (CoreDNS's comment says the same).
"""

from __future__ import annotations

from kdns import plugin, replay, wire
from kdns.pkg import dnsname
from kdns.pkg import fall as fall_
from kdns.plugins.hosts import table
from kdns.request import Request

#: The server writes this SERVFAIL (a name in the zones that the hosts entries lack).
NO_SUCH_HOST = wire.Answer.failure(wire.SERVFAIL)


class Hosts:
    name = "hosts"

    def __init__(
        self,
        next: plugin.Handler,
        current: table.Table,
        *,
        zones: frozenset[bytes],
        fall: fall_.Fall = fall_.ZERO,
    ) -> None:
        self.next = next
        self.zones = zones
        self.fall = fall
        #: What answers and pass-on decisions depend on: the entries; ended when they change.
        self.lease = replay.Lease()
        self.install(current)

    def install(self, current: table.Table) -> None:
        """Serve ``current`` from the next query on; replies built from the old entries end."""
        self._hits = current.hits
        self.table = current
        self.lease.end()
        self.lease = replay.Lease()

    def serve(self, req: Request) -> plugin.Result:
        answer = self._hits.get(req.key)
        if answer is not None:
            return answer
        return self._miss(req)

    def _miss(self, req: Request) -> plugin.Result:
        if req.qtype == table.TYPE_PTR:
            return self.next.serve(req)
        name = req.key[:-4]
        if not dnsname.within_any(name, self.zones):
            return self.next.serve(req)
        if name in self.table.names:
            return table.NODATA
        if self.fall.through(name):
            return self.next.serve(req)
        return NO_SUCH_HOST

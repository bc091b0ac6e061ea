"""Serving hosts entries: a hit is one dict lookup in the current table.

What misses the table follows CoreDNS's ``hosts.go``: a PTR query for an address without an
entry always goes to the next plugin; a name outside the plugin's zones too; a name that exists
(it has an A or AAAA entry) gets an empty authoritative NOERROR for any other type; a name that
does not exist goes to the next plugin under ``fallthrough``, and is otherwise SERVFAIL, because
without an SOA there is no NXDOMAIN to give (CoreDNS's comment says the same).
"""

from __future__ import annotations

from kdns import plugin, wire
from kdns.pkg import dnsname
from kdns.pkg import fall as fall_
from kdns.pkg.hits import HitTable
from kdns.plugins.hosts import table
from kdns.request import Request

#: The server writes this SERVFAIL (a name in the zones that the hosts entries lack).
NO_SUCH_HOST = wire.Answer.failure(wire.SERVFAIL)


class Hosts(HitTable[table.Table]):
    name = "hosts"

    def __init__(
        self,
        next: plugin.Handler,
        current: table.Table,
        *,
        zones: frozenset[bytes],
        fall: fall_.Fall = fall_.ZERO,
    ) -> None:
        self.zones = zones
        self.fall = fall
        super().__init__(next, current)

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

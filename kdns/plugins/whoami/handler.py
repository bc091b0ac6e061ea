"""Every query is answered with the client's address (A or AAAA) and port (SRV) in the
additional section, owner the query name, TTL 0, exactly as CoreDNS's whoami does."""

from __future__ import annotations

import dnslib

from kdns import plugin, render
from kdns.request import Request


class Whoami:
    name = "whoami"

    def __init__(self, next: plugin.Handler) -> None:
        self.next = next

    def serve(self, req: Request) -> plugin.Result:
        host, port = req.remote[0], req.remote[1]
        owner = req.name
        if req.family == 2:
            address = dnslib.RR(owner, dnslib.QTYPE.AAAA, ttl=0, rdata=dnslib.AAAA(host))
        else:
            address = dnslib.RR(owner, dnslib.QTYPE.A, ttl=0, rdata=dnslib.A(host))
        srv = dnslib.RR(
            f"_{req.proto}.{owner}",
            dnslib.QTYPE.SRV,
            ttl=0,
            rdata=dnslib.SRV(0, 0, port, "."),
        )
        return render.answer(owner, req.qtype, qclass=req.qclass, additional=[address, srv])

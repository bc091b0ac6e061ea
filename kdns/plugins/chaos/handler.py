from __future__ import annotations

import socket

import dnslib

from kdns import plugin, render, replay, wire
from kdns.request import Request


class Chaos:
    """Answers TXT queries in class CH; everything else goes to the next plugin."""

    name = "chaos"
    lease = replay.PURE

    def __init__(self, next: plugin.Handler, *, version: str, authors: tuple[str, ...]) -> None:
        self.next = next
        hostname = socket.gethostname()
        self._texts: dict[str, tuple[str, ...]] = {
            "version.bind.": (version,),
            "version.server.": (version,),
            "authors.bind.": authors,
            "hostname.bind.": (hostname,),
            "id.server.": (hostname,),
        }

    def serve(self, req: Request) -> plugin.Result:
        if req.qclass != wire.CLASS_CH or req.qtype != dnslib.QTYPE.TXT:
            return self.next.serve(req)
        texts = self._texts.get(req.name)
        if texts is None:
            return self.next.serve(req)
        records = [
            dnslib.RR(req.name, dnslib.QTYPE.TXT, rclass=wire.CLASS_CH, ttl=0, rdata=dnslib.TXT(t))
            for t in texts
        ]
        return render.answer(req.name, req.qtype, qclass=req.qclass, answer=records)

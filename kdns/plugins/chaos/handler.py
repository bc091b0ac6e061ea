from __future__ import annotations

import socket

import dnslib

from kdns import plugin, render, replay, wire
from kdns.request import Request

REFUSED = wire.Answer.failure(wire.REFUSED)


class Chaos:
    """Answers TXT queries in class CH; other IN queries go to the next plugin.

    A CH query it does not know is refused, unless a later plugin serves CH too:
    the plugins after it serve IN only and must not see another class.
    """

    name = "chaos"
    lease = replay.PURE
    classes = frozenset({wire.CLASS_CH})

    def __init__(self, next: plugin.Handler, *, version: str, authors: tuple[str, ...]) -> None:
        self.next = next
        self._after = plugin.served_classes(next)
        hostname = socket.gethostname()
        self._texts: dict[str, tuple[str, ...]] = {
            "version.bind.": (version,),
            "version.server.": (version,),
            "authors.bind.": authors,
            "hostname.bind.": (hostname,),
            "id.server.": (hostname,),
        }

    def serve(self, req: Request) -> plugin.Result:
        if req.qclass != wire.CLASS_CH:
            return self.next.serve(req)
        texts = self._texts.get(req.name) if req.qtype == dnslib.QTYPE.TXT else None
        if texts is None:
            if req.qclass in self._after:
                return self.next.serve(req)
            return REFUSED
        records = [
            dnslib.RR(req.name, dnslib.QTYPE.TXT, rclass=wire.CLASS_CH, ttl=0, rdata=dnslib.TXT(t))
            for t in texts
        ]
        return render.answer(req.name, req.qtype, qclass=req.qclass, answer=records)

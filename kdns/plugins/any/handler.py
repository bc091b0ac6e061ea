"""Every ANY query is answered with one HINFO record, as RFC 8482 section 4.2 allows.

The reply is the same bytes for every name: its owner is a pointer to the question (or the
root itself when the question is the root), so the client's spelling comes back. As CoreDNS's
``any``: NOERROR, AA not set, TTL 8482, CPU "ANY obsoleted", OS "See RFC 8482", whatever the
name or zone; other types go to the next plugin.
"""

from __future__ import annotations

import struct

from kdns import plugin, wire
from kdns.request import Request

TYPE_ANY = 255
TYPE_HINFO = 13
TTL = 8482
CPU = b"ANY obsoleted"
OS = b"See RFC 8482"

_RDATA = bytes((len(CPU),)) + CPU + bytes((len(OS),)) + OS


def _answer(owner: bytes) -> wire.Answer:
    body = owner + struct.pack("!HHIH", TYPE_HINFO, wire.CLASS_IN, TTL, len(_RDATA)) + _RDATA
    return wire.Answer(
        rcode=wire.NOERROR, body=body, counts=(1, 0, 0), ends=(len(body),), flags=wire.QR << 8
    )


class Any:
    name = "any"
    replay_safe = True

    def __init__(self, next: plugin.Handler) -> None:
        self.next = next
        self._by_pointer = _answer(b"\xc0\x0c")
        self._for_root = _answer(b"\x00")

    def serve(self, req: Request) -> plugin.Result:
        if req.qtype != TYPE_ANY:
            return self.next.serve(req)
        if req.name_end == wire.HEADER_LEN + 1:
            return self._for_root
        return self._by_pointer

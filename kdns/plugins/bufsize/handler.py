"""The request's EDNS buffer size is lowered to the configured size, as CoreDNS's bufsize
lowers the OPT of the request in place: every later plugin sees the smaller size and the
UDP reply is cut at it with TC.

The size is also this block's UDP reply cap (``Request.udp_cap``), which is 1,232 bytes
without bufsize: ``bufsize 4096`` lets a client that advertises 4,096 bytes get that much.
"""

from __future__ import annotations

from kdns import plugin
from kdns.request import Request


class Bufsize:
    name = "bufsize"
    #: The reply depends only on the query bytes and the configured size.
    replay_safe = True

    def __init__(self, next: plugin.Handler, *, size: int) -> None:
        self.next = next
        self.size = size

    def serve(self, req: Request) -> plugin.Result:
        size = self.size
        req.udp_cap = size
        if req.edns and req.udp_size > size:
            req.udp_size = size
        return self.next.serve(req)

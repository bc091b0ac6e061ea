"""A request whose OPT carries the NSID option gets the configured data back in the reply's
OPT (RFC 5001); every other request passes through untouched, paying one attribute test.

The option goes on ``Request.reply_options``, which ``wire.finalize`` appends to the OPT of
whatever reply the later plugins give, errors written by the server included.
"""

from __future__ import annotations

import struct

from kdns import plugin, wire
from kdns.request import Request


def nsid_option(data: str) -> bytes:
    """The NSID option in wire form, carrying ``data`` as bytes."""
    payload = data.encode("utf-8")
    return struct.pack("!HH", wire.OPTION_NSID, len(payload)) + payload


class Nsid:
    name = "nsid"
    #: The reply depends only on the query bytes and the configured data.
    replay_safe = True

    def __init__(self, next: plugin.Handler, *, data: str) -> None:
        self.next = next
        self.option = nsid_option(data)

    def serve(self, req: Request) -> plugin.Result:
        if req.nsid:
            req.reply_options = self.option
        return self.next.serve(req)

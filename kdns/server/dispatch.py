"""From datagram to reply: the one path every transport shares.

``handle`` returns the reply bytes when the chain answered at once, None when
there is nothing to send, or an awaitable of either when the chain must wait.
Malformed input never escapes as an exception: it is dropped or answered with
FORMERR/NOTIMP, and a failing plugin becomes SERVFAIL. A query of a class the
matched chain does not serve (``Route.classes``) is REFUSED without walking it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from kdns import metrics, wire
from kdns.request import Request
from kdns.server.zones import Route, ZoneTable

log = logging.getLogger("kdns.server")

Reply = bytes | None | Awaitable[bytes | None]
#: Told about each reply built at once from a leased answer of a route that may replay.
Keep = Callable[[Request, Route, wire.Answer, bytes, bytes], None]
_IN = wire.CLASS_IN


def handle(
    table: ZoneTable,
    data: bytes,
    proto: str,
    remote: tuple[str, int],
    keep: Keep | None = None,
) -> Reply:
    try:
        req = Request(data, proto, remote)
    except wire.Drop:
        return None
    except wire.Reject as reject:
        return reject.reply
    route = table.match(req.key)
    if route is None:
        return req.reply_error(wire.REFUSED)
    if req.qclass != _IN and req.qclass not in route.classes:
        return req.reply_error(wire.REFUSED)
    req.zone = route.zone
    req.server = route.server
    req.table = table
    try:
        result = route.handler.serve(req)
    except Exception:
        log.exception("plugin chain failed for %r", req)
        metrics.PANICS.inc(())
        return req.reply_error(wire.SERVFAIL)
    if type(result) is wire.Answer:
        if result is wire.DROP:
            return None
        reply = wire.finalize(req, result, req.size)
        if keep is not None and result.lease is not None and route.lease is not None:
            keep(req, route, result, reply, data)
        return reply
    return _finish(req, result)


async def _finish(req: Request, pending: Awaitable[wire.Answer]) -> bytes | None:
    try:
        answer = await pending
    except Exception:
        log.exception("plugin chain failed for %r", req)
        metrics.PANICS.inc(())
        return req.reply_error(wire.SERVFAIL)
    if answer is wire.DROP:
        return None
    return wire.finalize(req, answer, req.size)

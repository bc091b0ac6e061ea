"""The handler contract every plugin follows, written down once.

A handler's ``serve(req)`` returns an ``Answer``, or an awaitable of one when it
must wait (an upstream, a lookup through the chain). Returning a plain value
when the answer is at hand keeps the hot path free of coroutines and tasks.

As in CoreDNS (``plugin/plugin.go``): an ``Answer`` whose ``body`` is None with
rcode SERVFAIL, REFUSED, FORMERR or NOTIMP means "nothing written yet, the
server writes the error"; any other answer is the reply. The answer's ``error``
is what the errors plugin logs: a REFUSED or NOTIMP for a query the client should
not have asked (a zone transfer, a class nobody serves) carries none, so a flood
of bad queries cannot flood the log with [ERROR] lines. A plugin that does not
handle a query passes it on with ``self.next.serve(req)``; the end of the chain
answers SERVFAIL with the error ``plugin/NAME: no next plugin found``.

A plugin that needs the reply on its way back (log, errors, cache, metrics)
uses ``then``, which applies a function to a plain or awaitable result without
turning the plain case into a coroutine.

Every chain serves class IN. A plugin that answers another class lists it in a
``classes`` attribute (chaos: CH); the server refuses a query of a class no link
of its chain lists, so plugins serving IN never see another class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias

from kdns import replay, wire
from kdns.request import Request

Result: TypeAlias = wire.Answer | Awaitable[wire.Answer]


class Handler(Protocol):
    """One link of a server block's chain."""

    name: str

    def serve(self, req: Request) -> Result: ...


#: Builds a plugin's handler around the next handler of the chain.
PluginFactory: TypeAlias = Callable[[Handler], Handler]


class NoNext:
    """What a plugin finds after it when it is the last of the chain."""

    lease = replay.PURE

    def __init__(self, name: str) -> None:
        self.name = name
        self._answer = wire.Answer.failure(wire.SERVFAIL, f"plugin/{name}: {wire.NO_NEXT}")

    def serve(self, req: Request) -> Result:
        return self._answer


def served_classes(handler: object) -> frozenset[int]:
    """The classes the chain starting at ``handler`` serves: IN and what its links list."""
    classes = {wire.CLASS_IN}
    link: object = handler
    while link is not None:
        classes.update(getattr(link, "classes", ()))
        link = getattr(link, "next", None)
    return frozenset(classes)


def then(result: Result, fn: Callable[[wire.Answer], wire.Answer]) -> Result:
    """``fn(answer)`` now if ``result`` is at hand, else once it arrives."""
    if type(result) is wire.Answer:
        return fn(result)
    return _then(result, fn)


async def _then(
    result: Awaitable[wire.Answer], fn: Callable[[wire.Answer], wire.Answer]
) -> wire.Answer:
    return fn(await result)


async def resolve(result: Result) -> wire.Answer:
    """Await ``result`` if it needs awaiting."""
    if type(result) is wire.Answer:
        return result
    return await result


def is_error_to_write(answer: wire.Answer) -> bool:
    """CoreDNS's ``ClientWrite`` inverted: True when the server still has to write the reply."""
    return answer.body is None


def build_chain(factories: list[tuple[str, PluginFactory]]) -> Handler:
    """Wrap the factories, last first, so the first in the list sees each query first."""
    if not factories:
        return NoNext("server")
    handler: Handler = NoNext(factories[-1][0])
    for _, factory in reversed(factories):
        handler = factory(handler)
    return handler


def subrequest(req: Request, name: str, qtype: int) -> Request:
    """A query for ``name``/``qtype`` as if ``req``'s client had asked it (same transport and size)."""
    import struct

    from kdns.request import Request as _Request

    data = b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + wire.text_to_name(name)
    data += struct.pack("!HH", qtype, wire.CLASS_IN)
    sub = _Request(data, req.proto, req.remote)
    sub.udp_size = req.udp_size
    sub.udp_cap = req.udp_cap
    sub.zone = req.zone
    sub.server = req.server
    sub.table = req.table
    return sub


def lookup(req: Request, name: str, qtype: int) -> Result:
    """Resolve ``name``/``qtype`` through the server's own zones and chains.

    CoreDNS's ``upstream.Lookup``: the question goes through the listener the
    client's query arrived on, so a CNAME target outside the plugin's zones is
    answered by whichever block serves it (``forward``, ``records``...). The
    sub-query keeps the client's transport and buffer size, so TC propagates.
    """
    sub = subrequest(req, name, qtype)
    if req.table is None:
        return wire.Answer.failure(wire.REFUSED, f"no server block for {name}")
    return req.table.resolve(sub)

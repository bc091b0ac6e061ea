"""Pick the server block for a query: the longest zone suffix of its name, as CoreDNS does."""

from __future__ import annotations

from dataclasses import dataclass

from kdns import plugin, replay, wire
from kdns.pkg import dnsname
from kdns.request import Request


@dataclass(frozen=True, slots=True)
class Route:
    """Where a query for one zone on one listener goes."""

    zone: str
    handler: plugin.Handler
    #: CoreDNS's metric label for the listener, e.g. "dns://:53".
    server: str
    #: What the chain's pass-on decisions depend on; None when some link does not say, and
    #: then nothing this route answers is replayed.
    lease: replay.RouteLease | None = None
    #: The chain's per-query counters (prometheus, cache), told about every replay.
    counter: replay.ReplayCounting | None = None
    #: The query classes some link of the chain serves (``plugin.served_classes``).
    classes: frozenset[int] = frozenset({wire.CLASS_IN})
    #: The link that must see every reply's client (rrl), asked before each replay.
    gate: replay.ReplayGating | None = None

    @classmethod
    def of(cls, zone: str, handler: plugin.Handler, server: str) -> Route:
        """A route that replays when its chain allows it."""
        return cls(
            zone,
            handler,
            server,
            replay.RouteLease.of(handler),
            replay.counting(handler),
            plugin.served_classes(handler),
            replay.gating(handler),
        )


class ZoneTable:
    """Zones served on one listener, keyed by their lower-case wire form."""

    __slots__ = ("_routes", "replays")

    def __init__(self, routes: list[Route]) -> None:
        self._routes = {wire.text_to_name(r.zone.lower()): r for r in routes}
        #: Some route may replay kept replies (the UDP listener then reads in a thread).
        self.replays = any(r.lease is not None for r in routes)

    def match(self, key: bytes) -> Route | None:
        """The route of the longest zone that ``key`` (a ``Query.key``) falls under."""
        return dnsname.longest(key[:-4], self._routes)

    def resolve(self, req: Request) -> plugin.Result:
        """``req`` through the block whose zone holds its name, as the server routes a query
        (without the metrics and the error handling of ``dispatch.handle``); REFUSED when no
        block serves it. ``plugin.lookup``'s routing."""
        route = self.match(req.key)
        if route is None or (req.qclass != wire.CLASS_IN and req.qclass not in route.classes):
            return wire.Answer.failure(wire.REFUSED, f"no server block for {req.name}")
        req.zone = route.zone
        req.server = route.server
        req.table = self
        return route.handler.serve(req)

    @property
    def zones(self) -> list[str]:
        return [r.zone for r in self._routes.values()]

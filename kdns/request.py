"""``Request``: one query as the plugin chain sees it.

It is a ``wire.Query`` (header, question, EDNS, read without a full parse) plus
where it came from. Anything dearer to compute (the name as text, the zone the
query matched) is derived on demand, as CoreDNS's ``request.Request`` does.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable
from typing import Protocol

from kdns import wire

UDP = "udp"
TCP = "tcp"


class Lookups(Protocol):
    """The server's own routing, as a plugin may use it for a lookup (CoreDNS's
    ``upstream.Lookup``): the block whose zone holds the name, then its chain."""

    def resolve(self, req: Request) -> wire.Answer | Awaitable[wire.Answer]:
        """``req`` answered as if a client had sent it to this listener."""
        ...


class Request(wire.Query):
    __slots__ = ("proto", "remote", "server", "table", "udp_cap", "zone")

    def __init__(self, data: bytes, proto: str, remote: tuple[str, int]) -> None:
        super().__init__(data)
        self.proto = proto
        self.remote = remote
        #: The zone of the server block that took the query, e.g. "example.test.".
        self.zone = "."
        #: The server address label used by metrics, e.g. "dns://:1053".
        self.server = ""
        #: The listener's routing, for lookups through the server's own chains (``plugin.lookup``).
        #: Set by the server.
        self.table: Lookups | None = None
        #: The largest UDP reply, whatever the client advertises; ``bufsize`` sets it per block.
        self.udp_cap = wire.MAX_UDP_REPLY

    @property
    def edns_size(self) -> int:
        """CoreDNS's ``request.Size()``: the client's buffer (at least 512), 64 KiB over TCP."""
        return self.udp_size if self.proto == UDP else wire.MAX_MESSAGE

    @property
    def size(self) -> int:
        """The most bytes the reply may have: the client's UDP buffer up to ``udp_cap``, or
        64 KiB over TCP."""
        if self.proto != UDP:
            return wire.MAX_MESSAGE
        size = self.udp_size
        cap = self.udp_cap
        return size if size < cap else cap

    @property
    def family(self) -> int:
        """1 for IPv4, 2 for IPv6, as CoreDNS's metrics label it."""
        return 2 if ":" in self.remote[0] else 1

    @property
    def address_family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if self.family == 2 else socket.AF_INET

    def __repr__(self) -> str:
        return f"Request({self.original_name} {self.qtype} from {self.remote} over {self.proto})"

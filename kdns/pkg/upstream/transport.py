"""The transports to an upstream, in one place for their callers.

- UDP (`datagram`): every query on a socket of its own, bound to a fresh random port.
- TCP and TLS (`stream`): connections pooled per upstream, at most a few of them, reused and
  pipelined.
- `limits`: how many sockets all of this may hold, and what a query gets at the limit.
"""

from __future__ import annotations

from kdns.pkg.upstream.datagram import MAX_DATAGRAM
from kdns.pkg.upstream.datagram import exchange as exchange_udp
from kdns.pkg.upstream.endpoint import TCP, TLS, UDP, Address, Reply
from kdns.pkg.upstream.stream import Pool, StreamConn, connect

__all__ = [
    "MAX_DATAGRAM",
    "TCP",
    "TLS",
    "UDP",
    "Address",
    "Pool",
    "Reply",
    "StreamConn",
    "connect",
    "exchange_udp",
]

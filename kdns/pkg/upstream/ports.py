"""A fresh, random source port for every UDP query sent upstream.

Reusing a source port for the next query to the same upstream reuses the 5-tuple, and with it the
conntrack entry on every NAT between kdns and the upstream; parallel queries on one 5-tuple are
what loses the conntrack insert race behind the classic 5-second DNS timeouts
(kubernetes/kubernetes#56903). A predictable port also makes spoofed replies easier.

Letting the kernel choose (bind to port 0) is random but with replacement: 1,000 queries out of
Linux's 28,232 ephemeral ports almost surely repeat one. So kdns draws ports itself from the
kernel's ephemeral range, skipping every port it used for its last ``recent`` queries (16,384 by
default, so a port comes back at the earliest after that many queries, well past the 30 s UDP
conntrack timeout at 500 queries a second), and lets ``bind`` refuse ports that are taken.
"""

from __future__ import annotations

import _socket
import collections
import errno
import socket

from kdns.pkg.upstream.entropy import ENTROPY

#: Linux's default ``net.ipv4.ip_local_port_range``.
DEFAULT_RANGE = (32768, 60999)
#: Random draws before falling back to a port of the kernel's choosing.
ATTEMPTS = 32


def ephemeral_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """The kernel's ephemeral port range, the ports no service is configured on."""
    try:
        with open(path) as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return DEFAULT_RANGE
    if not 1024 <= low < high <= 65535:
        return DEFAULT_RANGE
    return low, high


class SourcePorts:
    """Draws source ports at random, never one of the last ``recent`` it handed out."""

    def __init__(self, low: int, high: int, *, recent: int | None = None) -> None:
        self.low = low
        self.span = high - low + 1
        size = min(16384, self.span // 2) if recent is None else recent
        self._recent: collections.deque[int] = collections.deque(maxlen=max(size, 1))
        self._recent_set: set[int] = set()

    def _remember(self, port: int) -> None:
        recent = self._recent
        if len(recent) == recent.maxlen:
            self._recent_set.discard(recent[0])
        recent.append(port)
        self._recent_set.add(port)

    def bind(self, sock: socket.socket | _socket.socket) -> int:
        """Bind ``sock`` to the wildcard address on a fresh random port; return the port."""
        host = "::" if sock.family == socket.AF_INET6 else "0.0.0.0"
        for _ in range(ATTEMPTS):
            port = self.low + ENTROPY.below(self.span)
            if port in self._recent_set:
                continue
            try:
                sock.bind((host, port))
            except OSError as err:
                if err.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            self._remember(port)
            return port
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        self._remember(chosen)
        return chosen


#: The process-wide picker: the "recently used" window must span every upstream.
PORTS = SourcePorts(*ephemeral_range())

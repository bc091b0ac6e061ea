"""Why an exchange with an upstream failed.

``str(err)`` is what the errors plugin logs after ``RCODE NAME. TYPE:``, so it follows the wording
of Go's ``net`` package that CoreDNS users know: ``read udp 127.0.0.1:40112->10.0.0.10:53: i/o
timeout``, ``dial tcp 10.0.0.10:53: connect: connection refused``.
"""

from __future__ import annotations

from kdns.errors import KdnsError


class UpstreamError(KdnsError):
    """The upstream gave no usable reply."""


class Timeout(UpstreamError):
    """No matching reply arrived in time."""


class Refused(UpstreamError):
    """Nothing listens at the upstream's address (ICMP port unreachable, or a TCP reset)."""


class CachedClosed(UpstreamError):
    """A pooled connection turned out to be closed by the upstream; a new one is worth a try."""

    def __init__(self) -> None:
        super().__init__("cached connection was closed by peer")


class Busy(UpstreamError):
    """Every socket this upstream may use stayed taken for the whole wait (`limits`); a
    failure of kdns's own, so it starts no health check."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: no free socket, too many queries in flight")


class Exhausted(UpstreamError):
    """kdns could not open a socket (out of descriptors or kernel memory). No other upstream
    would fare better, so the query is answered SERVFAIL at once, and no health check starts."""


def address(host: str, port: int) -> str:
    """``host:port`` as Go prints it, IPv6 in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

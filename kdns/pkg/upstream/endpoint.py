"""What every transport shares: where an upstream listens, and a reply that passed the checks."""

from __future__ import annotations

import _socket
import socket
from dataclasses import dataclass

from kdns.pkg.upstream import errors, message

UDP = "udp"
TCP = "tcp"
TLS = "tcp-tls"


@dataclass(frozen=True, slots=True)
class Address:
    """Where an upstream listens."""

    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def __str__(self) -> str:
        return errors.address(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply that passed `message.check`."""

    data: bytes
    verdict: message.Verdict


def local_name(sock: _socket.socket | None) -> str:
    """``host:port`` of a socket's own end, for error messages."""
    if sock is None:
        return "?"
    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return "?"
    return errors.address(host, port)

"""Every query is answered with the client's address (A or AAAA) and port (SRV) in the
additional section, owner the query name, TTL 0, exactly as CoreDNS's whoami does.

The two records are packed with ``struct`` per query: their owner is a pointer to the question
(0xC00C), so the client's own spelling of the name comes back, and the SRV's owner is ``_udp``
or ``_tcp`` followed by the same pointer.
"""

from __future__ import annotations

import socket
import struct

from kdns import plugin, replay, wire
from kdns.request import Request

_A = 1
_AAAA = 28
_SRV = 33
_RR = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_U16 = struct.Struct("!H")
_POINTER = b"\xc0\x0c"
_ROOT = b"\x00"
#: SRV rdata up to the port: priority 0, weight 0.
_SRV_RDATA = b"\x00\x00\x00\x00"
_FLAGS = (wire.QR | wire.AA) << 8


def _heads(owner: bytes) -> tuple[bytes, bytes]:
    """The A and AAAA records up to their address, owned by ``owner``."""
    return owner + _RR.pack(_A, wire.CLASS_IN, 0, 4), owner + _RR.pack(_AAAA, wire.CLASS_IN, 0, 16)


_BY_POINTER = _heads(_POINTER)
#: The root as question: dnslib (and so kdns before) writes it out rather than pointing at it.
_BY_ROOT = _heads(_ROOT)


def _srv_head(proto: str, owner: bytes) -> bytes:
    """The SRV record up to its port, owned by ``_PROTO.<owner>``."""
    label = b"_" + proto.encode()
    return bytes((len(label),)) + label + owner + _RR.pack(_SRV, wire.CLASS_IN, 0, 7) + _SRV_RDATA


_SRV_HEADS = {
    (proto, owner): _srv_head(proto, owner)
    for proto in ("udp", "tcp")
    for owner in (_POINTER, _ROOT)
}


class Whoami:
    name = "whoami"
    lease = replay.PURE

    def __init__(self, next: plugin.Handler) -> None:
        self.next = next

    def serve(self, req: Request) -> plugin.Result:
        host, port = req.remote[0], req.remote[1]
        owner = _ROOT if req.name_end == wire.HEADER_LEN + 1 else _POINTER
        heads = _BY_ROOT if owner is _ROOT else _BY_POINTER
        if ":" in host:
            address = heads[1] + socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
        else:
            address = heads[0] + socket.inet_pton(socket.AF_INET, host)
        srv = _SRV_HEADS.get((req.proto, owner))
        if srv is None:
            srv = _srv_head(req.proto, owner)
        body = address + srv + _U16.pack(port) + _ROOT
        return wire.Answer(
            rcode=wire.NOERROR,
            body=body,
            counts=(0, 0, 2),
            ends=(len(address), len(body)),
            flags=_FLAGS,
        )

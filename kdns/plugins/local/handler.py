"""localhost and the loopback reverse zones answered locally, as CoreDNS's ``local`` does.

Names are compared in wire form, lower-cased (``Request.key``), so escaped bytes cannot make a
name look like another. Every record has TTL 604800 and replies do not set AA. Owners that are
the question name are pointers to it, so the client's spelling comes back; the SOA of a reverse
zone asked below its apex is owned by the zone. Every answer is built once and kept, keyed by
the shape of the question (there are only a few), so serving one is a dict lookup.
"""

from __future__ import annotations

import logging
import socket
import struct

from kdns import metrics, plugin, replay, wire
from kdns.pkg import dnsname
from kdns.request import Request

log = logging.getLogger("kdns.plugin.local")

TTL = 604800
TYPE_A = 1
TYPE_NS = 2
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_AAAA = 28

LOCALHOST = wire.text_to_name("localhost.")
_SOA_RDATA = (
    LOCALHOST + wire.text_to_name("root.localhost.") + struct.pack("!IIIII", 1, 0, 0, 0, TTL)
)
#: The reverse zones whose apexes and names ``local`` answers.
REVERSE_ZONES = tuple(
    wire.text_to_name(z) for z in ("0.in-addr.arpa.", "127.in-addr.arpa.", "255.in-addr.arpa.")
)
_LOOPBACK_PTR = wire.text_to_name("1.0.0.127.in-addr.arpa.")
_QUESTION = b"\xc0\x0c"

LOCALHOST_REQUESTS = metrics.family(
    "coredns_local_localhost_requests_total",
    "Counter of localhost.<domain> requests.",
    (),
)


def _rr(owner: bytes, rtype: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rtype, wire.CLASS_IN, TTL, len(rdata)) + rdata


def _answer(
    rcode: int, answer: tuple[bytes, ...] = (), authority: tuple[bytes, ...] = ()
) -> wire.Answer:
    ends = []
    body = b""
    for rr in answer + authority:
        body += rr
        ends.append(len(body))
    return wire.Answer(
        rcode=rcode,
        body=body,
        counts=(len(answer), len(authority), 0),
        ends=tuple(ends),
        flags=wire.QR << 8,
        lease=replay.PURE,
    )


def _host_answers(owner: bytes) -> dict[int, wire.Answer]:
    """Answers for a localhost name by type; ``0`` is every other type (NODATA)."""
    nodata = _answer(wire.NOERROR, authority=(_rr(owner, TYPE_SOA, _SOA_RDATA),))
    return {
        TYPE_A: _answer(wire.NOERROR, (_rr(owner, TYPE_A, socket.inet_aton("127.0.0.1")),)),
        TYPE_AAAA: _answer(
            wire.NOERROR, (_rr(owner, TYPE_AAAA, socket.inet_pton(socket.AF_INET6, "::1")),)
        ),
        0: nodata,
    }


def _apex_answers(owner: bytes) -> dict[int, wire.Answer]:
    """Answers at a zone apex (``localhost.`` adds A and AAAA to these)."""
    soa = _rr(owner, TYPE_SOA, _SOA_RDATA)
    return {
        TYPE_SOA: _answer(wire.NOERROR, (soa,)),
        TYPE_NS: _answer(wire.NOERROR, (_rr(owner, TYPE_NS, LOCALHOST),)),
        0: _answer(wire.NOERROR, authority=(soa,)),
    }


class Local:
    name = "local"
    lease = replay.PURE

    def __init__(self, next: plugin.Handler, *, localhost_prefix: bool = True) -> None:
        self.next = next
        self.localhost_prefix = localhost_prefix
        host = _host_answers(_QUESTION)
        self._localhost = {
            **_apex_answers(_QUESTION),
            TYPE_A: host[TYPE_A],
            TYPE_AAAA: host[TYPE_AAAA],
        }
        self._below_localhost = host
        self._apex = _apex_answers(_QUESTION)
        zone_soa = {zone: _rr(zone, TYPE_SOA, _SOA_RDATA) for zone in REVERSE_ZONES}
        self._nxdomain = {
            z: _answer(wire.NXDOMAIN, authority=(soa,)) for z, soa in zone_soa.items()
        }
        loopback_soa = zone_soa[REVERSE_ZONES[1]]
        self._loopback = {
            TYPE_PTR: _answer(wire.NOERROR, (_rr(_QUESTION, TYPE_PTR, LOCALHOST),)),
            0: _answer(wire.NOERROR, authority=(loopback_soa,)),
        }

    def serve(self, req: Request) -> plugin.Result:
        name = req.key[:-4]
        found = self._answers_for(name)
        if found is None:
            return self.next.serve(req)
        answer = found.get(req.qtype)
        return answer if answer is not None else found[0]

    def _answers_for(self, name: bytes) -> dict[int, wire.Answer] | None:
        if name == LOCALHOST:
            return self._localhost
        if dnsname.within(name, LOCALHOST):
            self._count_localhost(name)
            return self._below_localhost
        if self.localhost_prefix and name.startswith(LOCALHOST[:-1]) and len(name) > len(LOCALHOST):
            self._count_localhost(name)
            return self._below_localhost
        if not name.endswith(b"\x04arpa\x00"):
            return None
        for zone in REVERSE_ZONES:
            if name == zone:
                return self._apex
            if dnsname.within(name, zone):
                if name == _LOOPBACK_PTR:
                    return self._loopback
                return {0: self._nxdomain[zone]}
        return None

    @staticmethod
    def _count_localhost(name: bytes) -> None:
        LOCALHOST_REQUESTS.inc(())
        log.debug("localhost name %s answered locally", wire.name_to_text(name))

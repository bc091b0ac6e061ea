"""What kind of reply an ``Answer`` is, and where its records sit: for cache and metrics.

CoreDNS's ``plugin/pkg/response`` (``Typify``) and ``plugin/pkg/dnsutil`` (``MinimalTTL``), read
from the pre-rendered wire body instead of a parsed message. The body is walked record by
record without following compression pointers, so no name is decoded; this runs when a reply
is stored, never when one is served.
"""

from __future__ import annotations

import enum
import struct

from kdns import wire

#: RR types this module looks at.
TYPE_NS = 2
TYPE_SOA = 6
TYPE_IXFR = 251
TYPE_AXFR = 252

#: CoreDNS's ``dnsutil.MinimalDefaultTTL``: the TTL of replies with nothing to take one from.
MINIMAL_DEFAULT_TTL = 5
#: CoreDNS's ``dnsutil.MaximumDefaulTTL``: no record makes a reply live longer than this.
MAXIMUM_DEFAULT_TTL = 3600

_HEADER = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
_U32 = struct.Struct("!I")


class Type(enum.IntEnum):
    """The classes of ``response.Typify``; the cache stores NOERROR and DELEGATION as success,
    NXDOMAIN, NODATA and SERVERERROR as denial, and nothing else."""

    #: A positive answer (or an empty NOERROR without an SOA).
    NOERROR = 0
    #: NXDOMAIN with an SOA in the authority section (RFC 2308 section 2.1).
    NXDOMAIN = 1
    #: NOERROR, no answer, an SOA in the authority section (RFC 2308 section 2.2).
    NODATA = 2
    #: A referral: NS records in the authority section and no answer.
    DELEGATION = 3
    #: SERVFAIL or NOTIMP.
    SERVERERROR = 4
    #: Anything else (REFUSED, FORMERR, NXDOMAIN without an SOA...).
    OTHERERROR = 5
    #: Zone transfers.
    META = 6


class Record:
    """Where one resource record sits in an answer body (offsets relative to the body)."""

    __slots__ = ("end", "rdata", "start", "ttl", "ttl_at", "type")

    def __init__(self, start: int, type: int, ttl: int, ttl_at: int, rdata: int, end: int) -> None:
        self.start = start
        self.type = type
        self.ttl = ttl
        #: Offset of the 4-byte TTL field.
        self.ttl_at = ttl_at
        #: Offset of the RDATA.
        self.rdata = rdata
        self.end = end

    def __repr__(self) -> str:
        return f"Record(type={self.type} ttl={self.ttl} {self.start}:{self.end})"


def records(answer: wire.Answer) -> list[Record]:
    """Every record of ``answer``'s body, in order.

    :raises ValueError: if the body does not hold the records its counts announce.
    """
    body = answer.body
    if body is None:
        return []
    count = answer.ancount + answer.nscount + answer.arcount
    out: list[Record] = []
    offset = 0
    size = len(body)
    for _ in range(count):
        start = offset
        offset = wire.skip_name(body, offset)
        if offset + 10 > size:
            raise ValueError("record header runs past the body")
        rtype, _rclass, ttl, rdlength = _HEADER.unpack_from(body, offset)
        rdata = offset + 10
        end = rdata + rdlength
        if end > size:
            raise ValueError("record data runs past the body")
        out.append(Record(start, rtype, ttl, offset + 4, rdata, end))
        offset = end
    if offset != size:
        raise ValueError("trailing bytes after the last record")
    return out


def typify(answer: wire.Answer, qtype: int, recs: list[Record] | None = None) -> Type:
    """The class of ``answer`` to a query of ``qtype``, as CoreDNS's ``response.Typify``.

    An answer the server still has to write (``body`` None) is SERVERERROR for SERVFAIL and
    NOTIMP and OTHERERROR otherwise; it has no records to classify further.
    """
    rcode = answer.rcode
    if qtype in (TYPE_AXFR, TYPE_IXFR):
        return Type.META
    if answer.body is None:
        return Type.SERVERERROR if rcode in (wire.SERVFAIL, wire.NOTIMP) else Type.OTHERERROR
    if answer.ancount > 0 and rcode == wire.NOERROR:
        return Type.NOERROR
    if recs is None:
        recs = records(answer)
    authority = recs[answer.ancount : answer.ancount + answer.nscount]
    soa = any(r.type == TYPE_SOA for r in authority)
    if soa and rcode == wire.NOERROR:
        return Type.NODATA
    if soa and rcode == wire.NXDOMAIN:
        return Type.NXDOMAIN
    if rcode in (wire.SERVFAIL, wire.NOTIMP):
        return Type.SERVERERROR
    if rcode == wire.NOERROR:
        ns = any(r.type == TYPE_NS for r in authority)
        return Type.DELEGATION if ns else Type.NOERROR
    return Type.OTHERERROR


def minimal_ttl(answer: wire.Answer, kind: Type, recs: list[Record]) -> int:
    """Seconds ``answer`` may be kept, before the cache's own bounds.

    As CoreDNS's ``dnsutil.MinimalTTL``: the lowest TTL of any record, starting from
    `MAXIMUM_DEFAULT_TTL`, and `MINIMAL_DEFAULT_TTL` for other kinds and for replies without
    records. Unlike CoreDNS, a negative answer's SOA counts as min(SOA TTL, SOA MINIMUM), the
    negative TTL of RFC 2308 section 5.
    """
    if kind not in (Type.NOERROR, Type.NXDOMAIN, Type.NODATA) or not recs:
        return MINIMAL_DEFAULT_TTL
    negative = kind in (Type.NXDOMAIN, Type.NODATA)
    body = answer.body
    assert body is not None
    lowest = MAXIMUM_DEFAULT_TTL
    for rec in recs:
        ttl = rec.ttl
        if negative and rec.type == TYPE_SOA and rec.end - rec.rdata >= 20:
            ttl = min(ttl, _U32.unpack_from(body, rec.end - 4)[0])
        if ttl < lowest:
            lowest = ttl
    return lowest

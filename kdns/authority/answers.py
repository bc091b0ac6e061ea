"""Pre-rendered answers for one version of the records: what ``serve`` reads.

At build time every answer that a name in the files can get for the common types is rendered
once into ``hits``, keyed exactly as ``wire.Query.key`` (lower-case wire qname + QTYPE + QCLASS):
each RRset at its name, what A, AAAA and CNAME get at a CNAME, and NODATA for A and AAAA at every
name that lacks them (the types clients ask for most, Happy Eyeballs asking both). Everything
else (NXDOMAIN, wildcard expansions, other types) is computed on its first query and kept in
``memo``, an LRU bounded to ``memo_size`` entries, so a flood of random names costs a bounded
amount of memory. A reload builds a new ``Table`` and swaps it in whole.

A miss is decided on wire names (no dnslib objects), and the answers a random name can get are
templates: NXDOMAIN and NODATA carry only the zone's SOA, owned by a pointer to the zone's labels
inside the question, and a wildcard expansion's records are owned by the question (0xC00C), so
one rendering per zone (or wildcard and type) and name length serves every name of that length.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Iterable

import dnslib

from kdns import render, replay, wire
from kdns.authority import lookup, zonedata
from kdns.pkg import fall as fall_

#: Default bound of the miss memo.
MEMO_SIZE = 10_000
#: Bound of the wildcard templates (one per wildcard, type and name length asked).
TEMPLATE_SIZE = 4096
#: Types whose NODATA answers are rendered up front at every name.
EAGER_NODATA = (zonedata.A, zonedata.AAAA)
#: Types answered up front at a CNAME (besides CNAME itself).
EAGER_CNAME = (zonedata.A, zonedata.AAAA)

#: Stands in the memo for "pass this query to the next plugin" (fallthrough).
NEXT = wire.Answer.failure(wire.SERVFAIL, "plugin/records: fall through")
#: Zone transfers need a transfer plugin, which kdns does not have (CoreDNS answers likewise).
REFUSED = wire.Answer.failure(wire.REFUSED)

_TRANSFERS = (lookup.AXFR, lookup.IXFR)
_QTYPE_IN = struct.Struct("!HH")


class Table:
    """Every answer of one load of the files, rendered or on its way to being."""

    __slots__ = ("fall", "hits", "index", "memo", "memo_size", "nodata", "nxdomain", "wildcards")

    def __init__(
        self,
        zones: Iterable[zonedata.Zone],
        *,
        fall: fall_.Fall = fall_.ZERO,
        memo_size: int = MEMO_SIZE,
    ) -> None:
        self.index = lookup.Index(zones)
        self.fall = fall
        self.memo_size = memo_size
        self.memo: OrderedDict[bytes, wire.Answer] = OrderedDict()
        #: NODATA and NXDOMAIN templates by (zone origin, length of the wire qname): the body
        #: is the zone's SOA, its owner a pointer to the zone's labels inside the question, so
        #: it depends neither on the name beyond its length nor on the type asked. At most one
        #: of each per zone and name length (255), however many names are asked.
        self.nodata: dict[tuple[bytes, int], wire.Answer] = {}
        self.nxdomain: dict[tuple[bytes, int], wire.Answer] = {}
        #: Wildcard expansions by (wildcard's parent, type, length of the wire qname): the owner
        #: is the question (pointer 0xC00C), so one rendering serves every name of that length
        #: the wildcard covers; with the CNAME targets of the answer (a name among them gets its
        #: own rendering: its chain stops earlier). An LRU of ``TEMPLATE_SIZE`` entries.
        self.wildcards: OrderedDict[tuple[bytes, int, int], tuple[wire.Answer, frozenset[bytes]]]
        self.wildcards = OrderedDict()
        self.hits: dict[bytes, wire.Answer] = {}
        self._prerender()

    @property
    def zones(self) -> list[zonedata.Zone]:
        return list(self.index.zones.values())

    def _prerender(self) -> None:
        hits = self.hits
        index = self.index
        for zone in index.zones.values():
            for name, rrsets in zone.nodes.items():
                if lookup.cut_of(zone, name) is not None:
                    continue  # referrals are rendered when asked, into the memo
                types: set[int] = set(rrsets)
                if zonedata.CNAME in rrsets:
                    types.update(EAGER_CNAME)
                for qtype in types:
                    result = lookup.resolve(index, zone, name, qtype)
                    hits[name + _QTYPE_IN.pack(qtype, wire.CLASS_IN)] = render_result(
                        name, qtype, result
                    )
                for qtype in EAGER_NODATA:
                    if qtype not in types:
                        hits[name + _QTYPE_IN.pack(qtype, wire.CLASS_IN)] = self._nodata(zone, name)

    def answer(self, key: bytes, qname: bytes, qtype: int) -> wire.Answer | None:
        """The answer for a query that missed ``hits`` (``key`` is its ``Query.key``, qclass IN):
        memoized, or computed and memoized. None when the name is in none of the zones."""
        memo = self.memo
        found = memo.get(key)
        if found is not None:
            memo.move_to_end(key)
            return found
        zone = self.index.zone_of(qname)
        if zone is None:
            return None  # not memoized: a flood of foreign names must not evict ours
        answer = self.compute(zone, qname, qtype)
        memo[key] = answer
        if len(memo) > self.memo_size:
            memo.popitem(last=False)
        return answer

    def compute(self, zone: zonedata.Zone, qname: bytes, qtype: int) -> wire.Answer:
        """``lookup.resolve``'s answer, decided on wire names: negative answers and wildcard
        expansions come from templates; the rest (CNAMEs, ANY, types a name has that were not
        pre-rendered) is resolved and rendered."""
        if qtype in _TRANSFERS:
            return REFUSED
        if lookup.cut_of(zone, qname) is not None:
            return render_result(qname, qtype, lookup.resolve(self.index, zone, qname, qtype))
        nodes = zone.nodes
        node = nodes.get(qname)
        if node is None:
            # RFC 4592: the closest encloser's wildcard, if any (the origin is always a node).
            encloser = lookup.closest_encloser(zone, qname)
            wild = nodes.get(b"\x01*" + encloser)
            if wild is None:
                if self.fall.through(qname):
                    return NEXT
                return self._nxdomain(zone, qname)
            return self._wildcard(zone, encloser, wild, qname, qtype)
        if zonedata.CNAME not in node or qtype == zonedata.CNAME:
            if qtype == lookup.ANY:
                if not node:
                    return self._nodata(zone, qname)
            elif qtype not in node:
                return self._nodata(zone, qname)
        return render_result(qname, qtype, lookup.resolve(self.index, zone, qname, qtype))

    def _nodata(self, zone: zonedata.Zone, qname: bytes) -> wire.Answer:
        """NODATA for ``qname`` in ``zone``: the template for its length."""
        answer = self.nodata.get((zone.origin, len(qname)))
        if answer is None:
            answer = self._negative(self.nodata, zone, wire.NOERROR, qname)
        return answer

    def _nxdomain(self, zone: zonedata.Zone, qname: bytes) -> wire.Answer:
        """NXDOMAIN for ``qname`` in ``zone``: the template for its length."""
        answer = self.nxdomain.get((zone.origin, len(qname)))
        if answer is None:
            answer = self._negative(self.nxdomain, zone, wire.NXDOMAIN, qname)
        return answer

    @staticmethod
    def _negative(
        templates: dict[tuple[bytes, int], wire.Answer],
        zone: zonedata.Zone,
        rcode: int,
        qname: bytes,
    ) -> wire.Answer:
        result = lookup.Result(rcode, authority=(zone.negative_soa(),))
        answer = render_template(qname, zonedata.A, result, zone.origin)
        templates[zone.origin, len(qname)] = answer
        return answer

    def _wildcard(
        self,
        zone: zonedata.Zone,
        encloser: bytes,
        wild: dict[int, zonedata.RRset],
        qname: bytes,
        qtype: int,
    ) -> wire.Answer:
        """``qname`` (which does not exist) as ``*.<encloser>`` answers it."""
        if zonedata.CNAME not in wild or qtype == zonedata.CNAME:
            if qtype == lookup.ANY:
                if not wild:
                    return self._nodata(zone, qname)
            elif qtype not in wild:
                return self._nodata(zone, qname)
        key = (encloser, qtype, len(qname))
        templates = self.wildcards
        found = templates.get(key)
        if found is not None:
            answer, targets = found
            if qname not in targets:
                templates.move_to_end(key)
                return answer
        result = lookup.resolve(self.index, zone, qname, qtype)
        # A CNAME chain stops at a target already seen, the query name among them: the answer
        # is the same for every name of this length but those the chain names.
        targets = frozenset(
            _wire_name(rr.rdata.label.label) for rr in result.answer if rr.rtype == zonedata.CNAME
        )
        if qname in targets:
            return render_result(qname, qtype, result)
        answer = render_template(qname, qtype, result, encloser)
        if found is None:
            templates[key] = (answer, targets)
            if len(templates) > TEMPLATE_SIZE:
                templates.popitem(last=False)
        return answer


def render_template(qname: bytes, qtype: int, result: lookup.Result, shared: bytes) -> wire.Answer:
    """``result`` rendered for every query whose name has ``qname``'s length and ends in
    ``shared`` (the zone, or a wildcard's parent), class IN.

    Names compress against ``shared`` inside the question (at offset ``12 + len(qname) -
    len(shared)`` on) and against the body, never against the rest of ``qname``; a record owned
    by ``qname`` gets the pointer 0xC00C, which reads as the name each client asked for.
    """
    buf = dnslib.DNSBuffer()
    buf.append(b"\x00" * wire.HEADER_LEN)
    buf.append(qname)
    buf.pack("!HH", qtype, wire.CLASS_IN)
    start = buf.offset
    names = buf.names
    offset = wire.HEADER_LEN + len(qname) - len(shared)
    suffix = zonedata.labels(shared)
    while suffix:
        names[tuple(suffix)] = offset
        offset += len(suffix.pop(0)) + 1
    owner = tuple(zonedata.labels(qname))
    ends: list[int] = []
    counts = []
    for section in (result.answer, result.authority, result.additional):
        for rr in section:
            if rr.rname.label == owner:
                buf.append(b"\xc0\x0c")
            else:
                buf.encode_name(rr.rname)
            buf.pack("!HHIH", rr.rtype, rr.rclass, rr.ttl, 0)
            rdata = buf.offset
            rr.rdata.pack(buf)
            buf.update(rdata - 2, "!H", buf.offset - rdata)
            ends.append(buf.offset - start)
        counts.append(len(section))
    return wire.Answer(
        rcode=result.rcode,
        body=bytes(buf.data[start:]),
        counts=(counts[0], counts[1], counts[2]),
        ends=tuple(ends),
        flags=_flags(result),
        lease=replay.PURE,
    )


def _flags(result: lookup.Result) -> int:
    return (wire.QR | wire.AA) << 8 if result.authoritative else wire.QR << 8


def _wire_name(labels: tuple[bytes, ...]) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in labels).lower() + b"\x00"


def render_result(qname: bytes, qtype: int, result: lookup.Result) -> wire.Answer:
    """``result`` as an ``Answer`` to ``qname`` (lower-case wire) and ``qtype``, class IN."""
    answer = render.answer(
        qname,
        qtype,
        rcode=result.rcode,
        answer=result.answer,
        authority=result.authority,
        additional=result.additional,
        authoritative=result.authoritative,
    )
    # Built from the table alone, which the records link's own lease covers.
    answer.lease = replay.PURE
    return answer

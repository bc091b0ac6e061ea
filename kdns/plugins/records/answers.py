"""Pre-rendered answers for one version of the records: what ``serve`` reads.

At build time every answer that a name in the files can get for the common types is rendered
once into ``hits``, keyed exactly as ``wire.Query.key`` (lower-case wire qname + QTYPE + QCLASS):
each RRset at its name, what A, AAAA and CNAME get at a CNAME, and NODATA for A and AAAA at every
name that lacks them (the types clients ask for most, Happy Eyeballs asking both). Everything
else (NXDOMAIN, wildcard expansions, other types) is computed on its first query and kept in
``memo``, an LRU bounded to ``memo_size`` entries, so a flood of random names costs a bounded
amount of memory. A reload builds a new ``Table`` and swaps it in whole.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Iterable

import dnslib

from kdns import render, wire
from kdns.pkg import fall as fall_
from kdns.plugins.records import lookup, zonedata

#: Default bound of the miss memo.
MEMO_SIZE = 10_000
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

    __slots__ = ("fall", "hits", "index", "memo", "memo_size", "nodata")

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
        #: NODATA per existing name: it does not depend on the type asked (the question's
        #: type follows its name, so every compression pointer stays put), so one per name.
        self.nodata: dict[bytes, wire.Answer] = {}
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
        if qtype in _TRANSFERS:
            return REFUSED
        result = lookup.resolve(self.index, zone, qname, qtype)
        if result.name_error and self.fall.through(qname):
            return NEXT
        if (
            result.rcode == wire.NOERROR
            and not result.answer
            and qname in zone.nodes
            and not result.additional
        ):
            return self._nodata(zone, qname)
        return render_result(qname, qtype, result)

    def _nodata(self, zone: zonedata.Zone, name: bytes) -> wire.Answer:
        answer = self.nodata.get(name)
        if answer is None:
            result = lookup.Result(wire.NOERROR, authority=(zone.negative_soa(),))
            answer = self.nodata[name] = render_result(name, zonedata.A, result)
        return answer


def render_result(qname: bytes, qtype: int, result: lookup.Result) -> wire.Answer:
    """``result`` as an ``Answer`` to ``qname`` (lower-case wire) and ``qtype``, class IN."""
    text = wire.name_to_text(qname)
    if "\\" not in text:
        return render.answer(
            text,
            qtype,
            rcode=result.rcode,
            answer=result.answer,
            authority=result.authority,
            additional=result.additional,
        )
    return _render_exact(qname, qtype, result)


def _render_exact(qname: bytes, qtype: int, result: lookup.Result) -> wire.Answer:
    """``render.answer`` for a name its text form cannot carry (a dot or odd byte inside a label:
    dnslib reads names from text without RFC 1035 escapes). Same body, question from the wire."""
    buf = dnslib.DNSBuffer()
    buf.append(b"\x00" * wire.HEADER_LEN)
    buf.encode_name(zonedata.label_of(qname))
    buf.pack("!HH", qtype, wire.CLASS_IN)
    start = buf.offset
    ends: list[int] = []
    counts = []
    for section in (result.answer, result.authority, result.additional):
        for rr in section:
            rr.pack(buf)
            ends.append(buf.offset - start)
        counts.append(len(section))
    return wire.Answer(
        rcode=result.rcode,
        body=bytes(buf.data[start:]),
        counts=(counts[0], counts[1], counts[2]),
        ends=tuple(ends),
        flags=(wire.QR | wire.AA) << 8,
    )

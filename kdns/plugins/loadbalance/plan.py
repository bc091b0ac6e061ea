"""The reorderings of one pre-rendered answer, built lazily and kept with it.

CoreDNS's round robin sorts each section into CNAME, other, address (A and AAAA) and MX
records and shuffles the address and MX groups. Here each answer gets up to `MAX_VARIANTS`
variants: variant ``i`` rotates every address and MX group by ``i * len(group) // variants``
records, so the variants spread the first record (and the subset that survives truncation) over
the whole group. ``prefer`` then moves the addresses in preferred networks to the front, in the
order of the networks, keeping the rotation within each network.

A variant is normally the same record bytes in another order. That is only valid when no
compression pointer in the message points into a record that moves; otherwise (rare: names
compressed against an earlier record's data) the records are decoded once and each variant is
rendered again with dnslib, so its pointers are rebuilt.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Sequence

import dnslib

from kdns import replay, wire
from kdns.pkg import response

#: At most this many variants per answer; rotations are spread over large groups.
MAX_VARIANTS = 32

TYPE_A = 1
TYPE_CNAME = 5
TYPE_MX = 15
TYPE_AAAA = 28
_ADDRESS = (TYPE_A, TYPE_AAAA)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Order = tuple[int, ...]

# Where RDATA holds (possibly compressed) names, by type: offsets of the first name from the
# start of the RDATA, and whether a second name follows it (RFC 1035 and RFC 3597 section 4).
_NAME_AT: dict[int, tuple[int, bool]] = {
    2: (0, False),  # NS
    3: (0, False),  # MD
    4: (0, False),  # MF
    5: (0, False),  # CNAME
    6: (0, True),  # SOA: MNAME, RNAME
    7: (0, False),  # MB
    8: (0, False),  # MG
    9: (0, False),  # MR
    12: (0, False),  # PTR
    14: (0, True),  # MINFO
    15: (2, False),  # MX
    17: (0, True),  # RP
    18: (2, False),  # AFSDB
    21: (2, False),  # RT
    26: (2, True),  # PX
    33: (6, False),  # SRV
    36: (2, False),  # KX
    39: (0, False),  # DNAME
}


class _Section:
    """One section's records by group, as indices into the answer's records.

    The addresses are split into classes: one per preferred network that holds some of them
    (in the order of ``prefer``), then the rest; each class rotates on its own, so that every
    address of a class gets its turn at the front of it.
    """

    __slots__ = ("classes", "cname", "mx", "prefer", "rest")

    def __init__(self, indices: range, types: Sequence[int], rank: dict[int, int] | None) -> None:
        self.cname: list[int] = []
        self.mx: list[int] = []
        self.rest: list[int] = []
        address: list[int] = []
        for i in indices:
            t = types[i]
            if t == TYPE_CNAME:
                self.cname.append(i)
            elif t in _ADDRESS:
                address.append(i)
            elif t == TYPE_MX:
                self.mx.append(i)
            else:
                self.rest.append(i)
        self.prefer = rank is not None
        if rank is None:
            self.classes = [address]
        else:
            by_rank: dict[int, list[int]] = {}
            for i in address:
                by_rank.setdefault(rank[i], []).append(i)
            self.classes = [by_rank[r] for r in sorted(by_rank)]

    @property
    def largest(self) -> int:
        return max([len(self.mx), *map(len, self.classes)])


class Plan:
    """The variants of one answer; ``variant(n)`` is the ``n``-th of a round robin."""

    __slots__ = ("_render", "_sections", "_variants", "count")

    def __init__(
        self, sections: list[_Section], count: int, render: Callable[[Order], wire.Answer]
    ) -> None:
        self._sections = sections
        self._render = render
        self.count = count
        self._variants: list[wire.Answer | None] = [None] * count

    def order(self, n: int) -> Order:
        """The record indices of variant ``n``."""
        count = self.count
        out: list[int] = []
        for sec in self._sections:
            address = [i for group in sec.classes for i in _rotate(group, n, count)]
            mx = _rotate(sec.mx, n, count)
            if sec.prefer:  # CoreDNS's prefer order, applied after the shuffle
                out += sec.cname + address + mx + sec.rest
            else:
                out += sec.cname + sec.rest + address + mx
        return tuple(out)

    def variant(self, n: int) -> wire.Answer:
        i = n % self.count
        found = self._variants[i]
        if found is None:
            found = self._variants[i] = self._render(self.order(i))
        return found

    def lease_all(self, lease: replay.Lease) -> None:
        """Render every variant under ``lease``, each knowing the ones that follow it, so
        that a kept reply rotates (``kdns.replay``) as this plan does."""
        variants = [self.variant(i) for i in range(self.count)]
        for i, found in enumerate(variants):
            found.lease = lease
            found.rotation = (*variants[i + 1 :], *variants[: i + 1])


def _rotate(group: list[int], n: int, count: int) -> list[int]:
    size = len(group)
    if size < 2:
        return group
    r = n * size // count
    return group[r:] + group[:r]


def build(
    answer: wire.Answer,
    *,
    question: bytes,
    prefer: Sequence[Network] = (),
) -> Plan | None:
    """The plan for ``answer`` to the question ``question`` (a ``Query.key``), or None when
    no variant would differ from it (or its records cannot be read)."""
    try:
        recs = response.records(answer)
    except ValueError:
        return None
    body = answer.body
    assert body is not None
    types = [r.type for r in recs]
    rank = _ranks(body, recs, prefer) if prefer else None
    an, ns = answer.ancount, answer.nscount
    # prefer reorders the answer and additional sections only, as in CoreDNS.
    bounds = ((0, an, rank), (an, an + ns, None), (an + ns, len(recs), rank))
    sections = [_Section(range(lo, hi), types, r) for lo, hi, r in bounds]
    count = max(1, min(MAX_VARIANTS, max(s.largest for s in sections)))
    plan = Plan(sections, count, _never)
    identity = tuple(range(len(recs)))
    moved = {i for i, j in zip(identity, plan.order(0), strict=True) if i != j}
    if count > 1:
        for sec in sections:
            for group in (*sec.classes, sec.mx):
                if len(group) > 1:
                    moved.update(group)
    if not moved:
        return None
    lo, hi = recs[min(moved)].start, recs[max(moved)].end
    base = wire.HEADER_LEN + len(question)
    if any(lo <= t - base < hi for t in _pointer_targets(body, recs)):
        render = _decoded_renderer(answer, question)
        if render is None:
            return None
        plan._render = render
    else:
        plan._render = _sliced_renderer(answer, recs)
    return plan


def _never(order: Order) -> wire.Answer:
    raise AssertionError("plan used before its renderer was chosen")


def _ranks(body: bytes, recs: list[response.Record], prefer: Sequence[Network]) -> dict[int, int]:
    """Per address record: the position of the first preferred network holding its address."""
    rank: dict[int, int] = {}
    for i, rec in enumerate(recs):
        if rec.type not in _ADDRESS:
            continue
        try:
            address = ipaddress.ip_address(body[rec.rdata : rec.end])
        except ValueError:
            rank[i] = len(prefer)
            continue
        rank[i] = next(
            (n for n, net in enumerate(prefer) if address in net),
            len(prefer),
        )
    return rank


def _sliced_renderer(
    answer: wire.Answer, recs: list[response.Record]
) -> Callable[[Order], wire.Answer]:
    body = answer.body
    assert body is not None
    pieces = [body[r.start : r.end] for r in recs]

    def render(order: Order) -> wire.Answer:
        parts = [pieces[i] for i in order]
        ends = []
        size = 0
        for part in parts:
            size += len(part)
            ends.append(size)
        return wire.Answer(
            rcode=answer.rcode,
            body=b"".join(parts),
            counts=(answer.ancount, answer.nscount, answer.arcount),
            ends=tuple(ends),
            flags=answer.flags,
            plugin=answer.plugin,
        )

    return render


def _decoded_renderer(
    answer: wire.Answer, question: bytes
) -> Callable[[Order], wire.Answer] | None:
    """Render variants through dnslib, for answers whose pointers forbid moving bytes."""
    body = answer.body
    assert body is not None
    header = struct.pack("!HHHHHH", 0, 0x8000, 1, answer.ancount, answer.nscount, answer.arcount)
    try:
        message = dnslib.DNSRecord.parse(header + question + body)
    except Exception:  # dnslib raises a variety of errors on what it cannot read
        return None
    rrs = [*message.rr, *message.auth, *message.ar]
    qname = message.q.qname
    qtype, qclass = struct.unpack("!HH", question[-4:])

    def render(order: Order) -> wire.Answer:
        buf = dnslib.DNSBuffer()
        buf.append(b"\x00" * wire.HEADER_LEN)
        buf.encode_name(qname)
        buf.pack("!HH", qtype, qclass)
        start = buf.offset
        ends = []
        for i in order:
            rrs[i].pack(buf)
            ends.append(buf.offset - start)
        return wire.Answer(
            rcode=answer.rcode,
            body=bytes(buf.data[start:]),
            counts=(answer.ancount, answer.nscount, answer.arcount),
            ends=tuple(ends),
            flags=answer.flags,
            plugin=answer.plugin,
        )

    return render


def _pointer_targets(body: bytes, recs: list[response.Record]) -> list[int]:
    """Message offsets that the compression pointers of the records' names point at."""
    out = []
    for rec in recs:
        offsets = [rec.start]
        layout = _NAME_AT.get(rec.type)
        if layout is not None:
            first = rec.rdata + layout[0]
            offsets.append(first)
            if layout[1] and first < rec.end:
                offsets.append(wire.skip_name(body, first))
        for offset in offsets:
            target = _pointer(body, offset, rec.end)
            if target is not None:
                out.append(target)
    return out


def _pointer(data: bytes, offset: int, end: int) -> int | None:
    """Where the name at ``offset`` continues by pointer, or None if it is not compressed."""
    while offset < end:
        length = data[offset]
        if length == 0:
            return None
        if length >= 0xC0:
            return ((length & 0x3F) << 8) | data[offset + 1]
        offset += length + 1
    return None

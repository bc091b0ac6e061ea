"""The resolution algorithm: one name and type against the plugin's zones, as RR sections.

RFC 1034 §4.3.2 with RFC 4592 wildcards and RFC 2308 negative answers. A zone's cuts (``Zone.cuts``,
NS records below the apex, which zone files have and records files do not) are answered with
referrals: the child's NS records and their in-bailiwick glue, AA clear. CNAME chains are followed
through every zone this plugin serves, never outside them: a target elsewhere ends the answer
with the CNAMEs alone, which a resolver then chases itself (CoreDNS's *file* plugin answers so
when it has no upstream to ask).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dnslib

from kdns import wire
from kdns.authority import zonedata
from kdns.authority.zonedata import RRset, Zone
from kdns.pkg import dnsname

ANY = 255
DS = 43
AXFR = 252
IXFR = 251
#: The most CNAMEs one answer follows (CoreDNS stops at the same count).
MAX_CNAMES = 10
#: Types whose answers carry the A/AAAA of their targets in the additional section.
_ADDITIONAL = (zonedata.NS, zonedata.MX, zonedata.SRV)
_ADDRESSES = (zonedata.A, zonedata.AAAA)


@dataclass(frozen=True, slots=True)
class Result:
    rcode: int
    answer: tuple[dnslib.RR, ...] = ()
    authority: tuple[dnslib.RR, ...] = ()
    additional: tuple[dnslib.RR, ...] = ()
    #: The query name itself does not exist (NXDOMAIN with an empty answer section): the
    #: one case ``fallthrough`` hands to the next plugin. An NXDOMAIN met at the end of a
    #: CNAME chain is not one: the query name exists.
    name_error: bool = False
    #: False for a pure referral (RFC 1034 §4.3.2 step 3b: the data is the child's).
    authoritative: bool = True


class Index:
    """The zones of one plugin instance, found by the longest suffix of a wire name."""

    __slots__ = ("zones",)

    def __init__(self, zones: Iterable[Zone]) -> None:
        self.zones: dict[bytes, Zone] = {z.origin: z for z in zones}

    def zone_of(self, name: bytes) -> Zone | None:
        """The zone holding ``name`` (lower-case wire form), or None when none does."""
        return dnsname.longest(name, self.zones)


def find(zone: Zone, name: bytes) -> dict[int, RRset] | None:
    """The RRsets answering for ``name`` in ``zone``: its own, a wildcard's, or None.

    RFC 4592 §3.3.1: a name that does not exist is matched by ``*.<closest encloser>`` only,
    the closest encloser being its nearest existing ancestor (empty non-terminals count). So
    ``*.apps`` answers ``x.apps`` and ``a.b.apps``, but not ``apps`` (which exists) nor
    ``x.web`` when ``web`` exists and has no ``*.web``.
    """
    nodes = zone.nodes
    node = nodes.get(name)
    if node is not None:
        return node
    return nodes.get(b"\x01*" + closest_encloser(zone, name))


def closest_encloser(zone: Zone, name: bytes) -> bytes:
    """The nearest existing ancestor of ``name`` (not a node itself) in ``zone``."""
    encloser = dnsname.parent(name)
    while encloser not in zone.nodes:  # the origin is always a node, so this ends
        encloser = dnsname.parent(encloser)
    return encloser


def resolve(index: Index, zone: Zone, qname: bytes, qtype: int) -> Result:
    """Answer ``qname``/``qtype`` (``qname`` lower-case wire, inside ``zone``)."""
    answer: list[dnslib.RR] = []
    name = qname
    seen: set[bytes] = set()
    while True:
        cut = cut_of(zone, name)
        if cut is not None and not (qtype == DS and name == cut):
            return referral(index, zone, cut, tuple(answer))
        rrsets = find(zone, name)
        if rrsets is None:
            return Result(
                wire.NXDOMAIN,
                answer=tuple(answer),
                authority=(zone.negative_soa(),),
                name_error=not answer,
            )
        cname = rrsets.get(zonedata.CNAME)
        if cname is not None and qtype != zonedata.CNAME:
            # RFC 1034 §3.6.2: the CNAME answers any other type; ANY gets it alone, as it is
            # the only RRset at the name.
            answer.extend(cname.records(name))
            seen.add(name)
            target = cname.targets[0]
            if qtype == ANY or target in seen or len(seen) >= MAX_CNAMES:
                return Result(wire.NOERROR, answer=tuple(answer))
            target_zone = index.zone_of(target)
            if target_zone is None:
                return Result(wire.NOERROR, answer=tuple(answer))
            zone, name = target_zone, target
            continue
        if qtype == ANY:
            found = list(rrsets.values())
        else:
            rrset = rrsets.get(qtype)
            found = [rrset] if rrset is not None else []
        if not found:
            return Result(wire.NOERROR, answer=tuple(answer), authority=(zone.negative_soa(),))
        for rrset in found:
            answer.extend(rrset.records(name))
        additional = _additional(index, found) if qtype in _ADDITIONAL else ()
        authority: tuple[dnslib.RR, ...] = ()
        if zone.apex_ns and not (name == zone.origin and qtype == zonedata.NS):
            authority = tuple(zone.nodes[zone.origin][zonedata.NS].records())
        return Result(
            wire.NOERROR, answer=tuple(answer), authority=authority, additional=additional
        )


def cut_of(zone: Zone, name: bytes) -> bytes | None:
    """The zone cut closest to the origin at or above ``name`` (inside ``zone``), if any."""
    if not zone.cuts:
        return None
    found = None
    while name != zone.origin and name[0]:
        if name in zone.cuts:
            found = name
        name = dnsname.parent(name)
    return found


def referral(index: Index, zone: Zone, cut: bytes, answer: tuple[dnslib.RR, ...] = ()) -> Result:
    """The delegation at ``cut``: its NS records, and the A/AAAA of those NS targets that sit at
    or below the cut (glue; a target elsewhere is resolved by the client). After an in-zone
    CNAME chain (``answer``) the reply stays authoritative for the chain."""
    ns = zone.nodes[cut][zonedata.NS]
    glue: list[dnslib.RR] = []
    for target in dict.fromkeys(ns.targets):
        if not dnsname.within(target, cut):
            continue
        node = zone.nodes.get(target)
        for rtype in _ADDRESSES:
            address = node.get(rtype) if node else None
            if address is not None:
                glue.extend(address.records())
    return Result(
        wire.NOERROR,
        answer=answer,
        authority=tuple(ns.records()),
        additional=tuple(glue),
        authoritative=bool(answer),
    )


def _additional(index: Index, rrsets: list[RRset]) -> tuple[dnslib.RR, ...]:
    """A/AAAA of the NS, MX and SRV targets that live in this plugin's zones (RFC 1034 §4.3.2
    step 6): glue for NS at the apex, and the addresses a client asks for next otherwise."""
    out: list[dnslib.RR] = []
    done: set[bytes] = set()
    for rrset in rrsets:
        for target in rrset.targets:
            if target in done:
                continue
            done.add(target)
            zone = index.zone_of(target)
            if zone is None:
                continue
            node = zone.nodes.get(target)
            if not node:
                continue
            for rtype in _ADDRESSES:
                address = node.get(rtype)
                if address is not None:
                    out.extend(address.records())
    return tuple(out)

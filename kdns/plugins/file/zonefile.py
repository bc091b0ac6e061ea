"""RFC 1035 zone files read with dnspython's zone reader, turned into the zones ``records``
serves.

dnspython reads the master format ($ORIGIN, $TTL, $INCLUDE, $GENERATE, relative names, ``@``,
escapes, every record type it knows and RFC 3597's generic form) and says ``FILE:LINE: reason``
on errors. Each record's rdata is carried over in wire form into dnslib's classes, which render
answers; owner and target names are kept lower-case in wire form, the form of ``Query.key``.
A relative ``$INCLUDE`` is read relative to the including file, as CoreDNS reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import dnslib

from kdns.authority import zonedata
from kdns.pkg import dnsname

_INCLUDE = re.compile(r'^(\$INCLUDE[ \t]+)("[^"]*"|\S+)', re.IGNORECASE | re.MULTILINE)
#: Record types whose rdata names another name the lookup follows (CNAME chains, glue).
_TARGET_FIELDS = {
    zonedata.CNAME: "target",
    zonedata.NS: "target",
    zonedata.PTR: "target",
    zonedata.MX: "exchange",
    zonedata.SRV: "target",
}


def parse(source: zonedata.Source, origin: str) -> zonedata.Zone:
    """The zone ``origin`` (text, absolute) from the zone file in ``source``.

    :raises zonedata.LoadError: with the file and, where the reader knows it, the line.
    """
    file = str(source.path)
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise zonedata.LoadError(f"not UTF-8 text: {err.reason}", file=file) from None
    text = _absolute_includes(text, source.path.parent)
    try:
        parsed = dns.zone.from_text(
            text,
            origin=origin,
            relativize=False,
            filename=file,
            allow_include=True,
            check_origin=False,
        )
    except dns.exception.SyntaxError as err:
        raise _located(str(err), file) from None
    except (dns.exception.DNSException, OSError, ValueError) as err:
        raise zonedata.LoadError(str(err) or type(err).__name__, file=file) from None
    return _zone(parsed, file)


def _absolute_includes(text: str, base: Path) -> str:
    def absolute(match: re.Match[str]) -> str:
        name = match.group(2).strip('"')
        path = Path(name) if Path(name).is_absolute() else base / name
        return f'{match.group(1)}"{path}"'

    return _INCLUDE.sub(absolute, text)


def _located(message: str, file: str) -> zonedata.LoadError:
    """dnspython's ``FILE:LINE: reason`` as a LoadError."""
    head, sep, reason = message.partition(": ")
    where, _, line = head.rpartition(":")
    if sep and line.isdigit() and where:
        return zonedata.LoadError(reason, file=where, line=int(line))
    return zonedata.LoadError(message, file=file)


def _wire(name: dns.name.Name) -> bytes:
    return name.canonicalize().to_wire() or b"\x00"


def _zone(parsed: dns.zone.Zone, file: str) -> zonedata.Zone:
    assert parsed.origin is not None, "parse() always names the origin"
    origin = _wire(parsed.origin)
    apex = parsed.get_node(parsed.origin)
    soa = apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.SOA) if apex is not None else None
    if soa is None:
        raise zonedata.LoadError(f"no SOA record for {parsed.origin}", file=file)
    zone = zonedata.Zone(origin=origin, file=file, line=0, ttl=soa.ttl)
    nodes = zone.nodes
    for name, node in parsed.nodes.items():
        owner = _wire(name)
        rrsets = nodes.setdefault(owner, {})
        for rdataset in node.rdatasets:
            rtype = int(rdataset.rdtype)
            if rtype == zonedata.SOA and owner != origin:
                continue  # one SOA per zone, the apex's
            rrsets[rtype] = _rrset(owner, rtype, rdataset.ttl, list(rdataset))
        for above in dnsname.ancestors(owner, origin):
            nodes.setdefault(above, {})
    zone.cuts = frozenset(n for n, rr in nodes.items() if n != origin and zonedata.NS in rr)
    zone.apex_ns = zonedata.NS in nodes[origin]
    return zone


def _rrset(owner: bytes, rtype: int, ttl: int, rdatas: list[dns.rdata.Rdata]) -> zonedata.RRset:
    cls = dnslib.RDMAP.get(dns.rdatatype.RdataType.to_text(rtype), dnslib.RD)
    rdata = []
    targets = []
    field = _TARGET_FIELDS.get(rtype)
    for rd in rdatas:
        data = rd.to_wire()
        assert data is not None, "to_wire() without a file returns the bytes"
        rdata.append(cls.parse(dnslib.DNSBuffer(data), len(data)))
        if field is not None:
            targets.append(_wire(getattr(rd, field)))
    return zonedata.RRset(
        name=owner, rtype=rtype, ttl=ttl, rdata=tuple(rdata), targets=tuple(targets), line=0
    )

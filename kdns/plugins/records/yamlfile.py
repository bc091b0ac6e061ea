"""Records files: YAML documents, one per zone, turned into RRsets that remember their line.

The YAML is composed, not loaded: every scalar is kept as the text that was written (so
``NO`` stays a name, ``0700`` a string, ``10.0.0.1`` an address) and every node knows its line,
so each error can say ``FILE:LINE - reason``. Names are kept in lower-case wire form, the form
a query's ``key`` has, so lookups never convert between text and wire.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import dnslib
import yaml

from kdns import wire
from kdns.authority.zonedata import (
    AAAA,
    CAA,
    CNAME,
    DEFAULT_TTL,
    MAX_TTL,
    MX,
    NS,
    PTR,
    SOA,
    SOA_TIMERS,
    SRV,
    TXT,
    TYPES,
    A,
    LoadError,
    RRset,
    Source,
    Zone,
    label_of,
    rdata_bytes,
)
from kdns.pkg import dnsname, yamlerror

_DOC_KEYS = ("zone", "ttl", "records")
_NULL = "tag:yaml.org,2002:null"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def build(sources: Iterable[Source]) -> list[Zone]:
    """Every zone of every file; a zone may be defined once across all of them.

    :raises LoadError: at the first problem, with the file and line it is on.
    """
    zones: dict[bytes, Zone] = {}
    for source in sources:
        serial = (source.stat[0] // 1_000_000_000) & 0xFFFFFFFF
        for zone in parse(source.data, file=str(source.path), serial=serial):
            other = zones.get(zone.origin)
            if other is not None:
                raise LoadError(
                    f"zone '{zone.name}' is already defined at {other.file}:{other.line}",
                    file=zone.file,
                    line=zone.line,
                )
            zones[zone.origin] = zone
    return list(zones.values())


def parse(data: bytes | str, *, file: str, serial: int = 0) -> list[Zone]:
    """The zones of one records file; ``serial`` goes into synthesised SOAs.

    :raises LoadError: on a YAML error or a bad record, with its line.
    """
    try:
        documents = list(yaml.compose_all(data, Loader=_Loader))
    except yaml.MarkedYAMLError as err:
        reason = yamlerror.reason(err)
        line = yamlerror.line(err, data)
        raise LoadError(f"YAML syntax error: {reason}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise LoadError(f"YAML error: {err}", file=file) from None
    zones = []
    for node in documents:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
            continue  # an empty document, e.g. after a trailing '---'
        zones.append(_Document(file, serial).parse(node))
    if not zones:
        raise LoadError("no zone defined (expected documents with 'zone' and 'records')", file=file)
    return zones


# --- one document ------------------------------------------------------------------------------


class _Document:
    """Turns one composed YAML document into a `Zone`; raises `LoadError` at the first fault."""

    def __init__(self, file: str, serial: int) -> None:
        self.file = file
        self.serial = serial
        self.origin = b"\x00"
        self.origin_text = "."

    def fail(self, node: yaml.Node, reason: str) -> LoadError:
        return LoadError(reason, file=self.file, line=node.start_mark.line + 1)

    def parse(self, node: yaml.Node) -> Zone:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "a document must be a mapping with 'zone' and 'records'")
        fields = self.mapping(node)
        for key, (key_node, _) in fields.items():
            if key not in _DOC_KEYS:
                raise self.fail(
                    key_node, f"unknown key '{key}' (expected one of: {', '.join(_DOC_KEYS)})"
                )
        if "zone" not in fields:
            raise self.fail(node, "missing 'zone' (the origin of this document's records)")
        zone_node = fields["zone"][1]
        origin_text = self.scalar(zone_node, "zone")
        if not origin_text.endswith("."):
            origin_text += "."
        try:
            self.origin = wire.text_to_name(origin_text).lower()
        except ValueError as err:
            raise self.fail(zone_node, f"invalid zone name: {err}") from None
        self.origin_text = wire.name_to_text(self.origin)
        ttl = DEFAULT_TTL
        if "ttl" in fields:
            ttl = self.ttl(fields["ttl"][1])
        zone = Zone(origin=self.origin, file=self.file, line=node.start_mark.line + 1, ttl=ttl)
        zone.nodes[self.origin] = {}
        if "records" in fields:
            records = fields["records"][1]
            if isinstance(records, yaml.ScalarNode) and records.tag == _NULL:
                pass
            elif not isinstance(records, yaml.MappingNode):
                raise self.fail(records, "'records' must be a mapping of names to records")
            else:
                self.records(zone, records)
        if SOA not in zone.nodes[self.origin]:
            zone.nodes[self.origin] = {SOA: self.synthesised_soa(zone), **zone.nodes[self.origin]}
        return zone

    def records(self, zone: Zone, records: yaml.MappingNode) -> None:
        owners: dict[bytes, int] = {}
        for key_node, value in records.value:
            text = self.scalar(key_node, "name")
            owner = self.name(key_node, text)
            if not dnsname.within(owner, self.origin):
                raise self.fail(key_node, f"name '{text}' is outside zone '{self.origin_text}'")
            if owner in owners:
                raise self.fail(
                    key_node,
                    f"name '{wire.name_to_text(owner)}' is already defined at line {owners[owner]}",
                )
            owners[owner] = key_node.start_mark.line + 1
            if not isinstance(value, yaml.MappingNode):
                raise self.fail(value, f"records of '{text}' must be a mapping of types to values")
            rrsets = self.rrsets(owner, value, zone.ttl)
            zone.nodes[owner] = rrsets
        # Every name between an owner and the origin exists (RFC 4592 §2.2.2, empty
        # non-terminals): it answers NODATA, and it stops wildcards above it from matching.
        for owner in list(zone.nodes):
            for above in dnsname.ancestors(owner, self.origin):
                zone.nodes.setdefault(above, {})

    def rrsets(self, owner: bytes, node: yaml.MappingNode, ttl: int) -> dict[int, RRset]:
        fields = self.mapping(node, fold_case=True)
        if "ttl" in fields:
            ttl = self.ttl(fields["ttl"][1])
        out: dict[int, RRset] = {}
        for key, (key_node, value) in fields.items():
            if key == "ttl":
                continue
            rtype = TYPES.get(key.upper())
            if rtype is None:
                raise self.fail(
                    key_node,
                    f"unknown record type '{key_node.value}' "
                    f"(supported: {', '.join(sorted(TYPES))})",
                )
            out[rtype] = self.rrset(owner, rtype, key_node, value, ttl)
        cname = out.get(CNAME)
        if cname is not None and len(out) > 1:
            others = ", ".join(k for k, v in TYPES.items() if v in out and v != CNAME)
            raise LoadError(
                f"CNAME beside other data ({others}) at '{wire.name_to_text(owner)}': "
                "a CNAME must be the only record at its name (RFC 1034 §3.6.2)",
                file=self.file,
                line=cname.line,
            )
        if SOA in out and owner != self.origin:
            raise LoadError(
                f"SOA at '{wire.name_to_text(owner)}': a SOA belongs at the zone apex '@'",
                file=self.file,
                line=out[SOA].line,
            )
        return out

    def rrset(
        self, owner: bytes, rtype: int, key_node: yaml.Node, value: yaml.Node, ttl: int
    ) -> RRset:
        type_name = key_node.value.upper()
        if isinstance(value, yaml.SequenceNode):
            items = list(value.value)
            if not items:
                raise self.fail(value, f"{type_name} has an empty list of values")
        else:
            items = [value]
        if rtype in (CNAME, SOA) and len(items) > 1:
            raise self.fail(value, f"{type_name} takes exactly one value, not {len(items)}")
        rdata: list[dnslib.RD] = []
        targets: list[bytes] = []
        seen: set[bytes] = set()
        for item in items:
            rd, target = self.rdata(rtype, type_name, item)
            packed = rdata_bytes(rd)
            if packed in seen:
                continue  # RFC 2181 §5: an RRset holds no duplicate records
            seen.add(packed)
            rdata.append(rd)
            if target is not None:
                targets.append(target)
        return RRset(
            name=owner,
            rtype=rtype,
            ttl=ttl,
            rdata=tuple(rdata),
            targets=tuple(targets),
            line=key_node.start_mark.line + 1,
        )

    # --- rdata ---------------------------------------------------------------------------------

    def rdata(self, rtype: int, type_name: str, node: yaml.Node) -> tuple[dnslib.RD, bytes | None]:
        if rtype == TXT:
            return self.txt(node), None
        text = self.scalar(node, type_name).strip()
        fields = text.split()
        if rtype == A:
            try:
                return dnslib.A(str(ipaddress.IPv4Address(text))), None
            except ValueError:
                raise self.fail(node, f"bad A record '{text}': not an IPv4 address") from None
        if rtype == AAAA:
            try:
                return dnslib.AAAA(str(ipaddress.IPv6Address(text))), None
            except ValueError:
                raise self.fail(node, f"bad AAAA record '{text}': not an IPv6 address") from None
        if rtype in (CNAME, NS, PTR):
            if len(fields) != 1:
                raise self.fail(node, f"bad {type_name} record '{text}': expected one name")
            target = self.name(node, fields[0])
            cls = {CNAME: dnslib.CNAME, NS: dnslib.NS, PTR: dnslib.PTR}[rtype]
            return cls(label_of(target)), target
        if rtype == MX:
            if len(fields) != 2:
                raise self.fail(node, f"bad MX record '{text}': expected 'PREFERENCE HOST'")
            preference = self.number(node, fields[0], "MX preference", 0xFFFF)
            target = self.name(node, fields[1])
            return dnslib.MX(label_of(target), preference), target
        if rtype == SRV:
            if len(fields) != 4:
                raise self.fail(
                    node, f"bad SRV record '{text}': expected 'PRIORITY WEIGHT PORT TARGET'"
                )
            priority = self.number(node, fields[0], "SRV priority", 0xFFFF)
            weight = self.number(node, fields[1], "SRV weight", 0xFFFF)
            port = self.number(node, fields[2], "SRV port", 0xFFFF)
            target = self.name(node, fields[3])
            return dnslib.SRV(priority, weight, port, label_of(target)), target
        if rtype == SOA:
            if len(fields) != 7:
                raise self.fail(
                    node,
                    f"bad SOA record '{text}': expected "
                    "'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'",
                )
            mname = self.name(node, fields[0])
            rname = self.name(node, fields[1])
            times = tuple(self.number(node, f, "SOA field", 0xFFFFFFFF) for f in fields[2:])
            return dnslib.SOA(label_of(mname), label_of(rname), times), None
        if rtype == CAA:
            parts = text.split(None, 2)
            if len(parts) != 3:
                raise self.fail(node, f"bad CAA record '{text}': expected 'FLAGS TAG VALUE'")
            flags = self.number(node, parts[0], "CAA flags", 0xFF)
            tag = parts[1]
            if not tag.isalnum() or not tag.isascii():
                raise self.fail(node, f"bad CAA record '{text}': tag must be letters and digits")
            value = parts[2]
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return dnslib.CAA(flags, tag, value), None
        raise AssertionError(f"no parser for type {rtype}")  # pragma: no cover

    def txt(self, node: yaml.Node) -> dnslib.RD:
        """One TXT record: a string is split into 255-byte character-strings; a list of
        strings gives one character-string (each split likewise) per item."""
        if isinstance(node, yaml.SequenceNode):
            parts = [self.scalar(item, "TXT") for item in node.value]
            if not parts:
                raise self.fail(node, "TXT record with no strings")
        else:
            parts = [self.scalar(node, "TXT")]
        strings: list[bytes] = []
        for part in parts:
            raw = part.encode("utf-8")
            strings.extend(raw[i : i + 255] for i in range(0, len(raw), 255))
            if not raw:
                strings.append(b"")
        return dnslib.TXT(strings)

    # --- scalars -------------------------------------------------------------------------------

    def mapping(
        self, node: yaml.MappingNode, *, fold_case: bool = False
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys to (key node, value node); a key given twice is an error (YAML 1.2 §3.2.1.1)."""
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value in node.value:
            key = self.scalar(key_node, "key")
            folded = key.lower() if fold_case else key
            if folded in out:
                first = out[folded][0].start_mark.line + 1
                raise self.fail(key_node, f"duplicate key '{key}' (first at line {first})")
            out[folded] = (key_node, value)
        return out

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what}: expected a single value, not a list or mapping")
        if node.tag == _NULL and node.value in ("", "~", "null", "Null", "NULL"):
            raise self.fail(node, f"{what}: missing value")
        return str(node.value)

    def ttl(self, node: yaml.Node) -> int:
        return self.number(node, self.scalar(node, "ttl"), "ttl", MAX_TTL)

    def number(self, node: yaml.Node, text: str, what: str, limit: int) -> int:
        if not text.isdigit() or not text.isascii():
            raise self.fail(node, f"bad {what} '{text}': expected a number from 0 to {limit}")
        value = int(text)
        if value > limit:
            raise self.fail(node, f"bad {what} '{text}': expected a number from 0 to {limit}")
        return value

    def name(self, node: yaml.Node, text: str) -> bytes:
        """``text`` as a lower-case wire name: '@' is the origin, a trailing dot makes it
        absolute, anything else hangs under the origin."""
        if text == "@":
            return self.origin
        if text.endswith("."):
            absolute = text
        elif self.origin == b"\x00":
            absolute = text + "."
        else:
            absolute = f"{text}.{self.origin_text}"
        try:
            return wire.text_to_name(absolute).lower()
        except ValueError as err:
            raise self.fail(node, f"bad name '{text}': {err}") from None

    def synthesised_soa(self, zone: Zone) -> RRset:
        """The SOA of a zone that gives none: the first apex NS (else ``ns.dns.ZONE``) as
        MNAME, ``hostmaster.ZONE`` as RNAME, the file's mtime as serial, CoreDNS's timers,
        and the document TTL as both TTL and MINIMUM (the negative-caching TTL)."""
        apex = zone.nodes[self.origin]
        ns = apex.get(NS)
        mname = ns.targets[0] if ns else b"\x02ns\x03dns" + self.origin
        rname = b"\x0ahostmaster" + self.origin
        rd = dnslib.SOA(
            label_of(mname),
            label_of(rname),
            (self.serial, *SOA_TIMERS, zone.ttl),
        )
        return RRset(name=self.origin, rtype=SOA, ttl=zone.ttl, rdata=(rd,), targets=(), line=0)

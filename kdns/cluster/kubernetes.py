"""Kubernetes objects to DNS records, name shape by name shape, as CoreDNS answers them.

``Synthesizer.lookup(name, qtype, zone)`` returns a ``Records`` value: rcode,
sections, the dependency tags the answer was built from (so that a change to
one Service invalidates exactly the answers that read it), and any CNAME
targets outside the cluster zones that must be resolved through the server's
own chain. Where CoreDNS has a quirk that is arguably a bug, kdns answers
correctly; README lists each difference.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import dnslib

from kdns import wire
from kdns.cluster import names, reverse
from kdns.kube import objects, store
from kdns.pkg import dnsname

log = logging.getLogger("kdns.plugin.kubernetes")

A = dnslib.QTYPE.A
AAAA = dnslib.QTYPE.AAAA
SRV = dnslib.QTYPE.SRV
TXT = dnslib.QTYPE.TXT
PTR = dnslib.QTYPE.PTR
SOA = dnslib.QTYPE.SOA
NS = dnslib.QTYPE.NS
CNAME = dnslib.QTYPE.CNAME

DNS_SCHEMA_VERSION = "1.1.0"
DNS_VERSION_TTL = 28800
MAX_CNAME_CHAIN = 10

Tag = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Settings:
    zones: tuple[str, ...]
    ttl: int = 5
    pods: str = "disabled"
    endpoint_pod_names: bool = False
    ignore_empty_service: bool = False
    noendpoints: bool = False
    #: Non-loopback addresses kdns serves on, for the apex NS records.
    local_addresses: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        """The first forward zone: PTR targets are named in it."""
        for zone in self.zones:
            if not reverse.is_reverse(zone):
                return zone
        raise ValueError("no forward zone")


@dataclass(slots=True)
class Item:
    """One (address or CNAME target, port) pair a name yields; CoreDNS's msg.Service."""

    host: str
    port: int
    target: str
    cname: bool = False


@dataclass(slots=True)
class Records:
    rcode: int = wire.NOERROR
    answer: list[dnslib.RR] = field(default_factory=list)
    authority: list[dnslib.RR] = field(default_factory=list)
    additional: list[dnslib.RR] = field(default_factory=list)
    tags: set[Tag] = field(default_factory=set)
    #: (index in ``answer`` after which to insert, target name): CNAME targets to resolve elsewhere.
    chase: list[str] = field(default_factory=list)

    @property
    def name_error(self) -> bool:
        return self.rcode == wire.NXDOMAIN


def dashed(address: str) -> str:
    """CoreDNS's endpoint name for an address without hostname: ``10-0-0-1``, ``fd00--1``."""
    if ":" in address:
        text = address.replace(":", "-")
        return text + "0" if text.endswith("-") else text
    return address.replace(".", "-")


def _family(host: str) -> int:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return 0


@runtime_checkable
class Synthesizing(Protocol):
    """A chain link that answers from a ``Synthesizer`` (the kubernetes plugin's handler), as
    those that read its cache find it: k8s_external, autopath, ``kdns explain``."""

    @property
    def synth(self) -> Synthesizer: ...

    def zone_of(self, name: str) -> str | None:
        """The link's zone that holds ``name``, or None."""
        ...


class Synthesizer:
    def __init__(self, cache: store.Store, settings: Settings) -> None:
        self.store = cache
        self.settings = settings
        self._warned: set[objects.Key] = set()

    # --- records ----------------------------------------------------------------------------

    def soa(self, zone: str) -> dnslib.RR:
        ttl = self.settings.ttl
        return dnslib.RR(
            zone,
            SOA,
            ttl=min(ttl, 300),
            rdata=dnslib.SOA(
                f"ns.dns.{zone}", f"hostmaster.{zone}", (self.store.serial, 7200, 1800, 86400, ttl)
            ),
        )

    def _address(self, owner: str, host: str, ttl: int | None = None) -> dnslib.RR:
        ttl = self.settings.ttl if ttl is None else ttl
        if ":" in host:
            return dnslib.RR(owner, AAAA, ttl=ttl, rdata=dnslib.AAAA(host))
        return dnslib.RR(owner, A, ttl=ttl, rdata=dnslib.A(host))

    def _negative(self, rcode: int, zone: str, tags: set[Tag]) -> Records:
        return Records(rcode=rcode, authority=[self.soa(zone)], tags=tags)

    # --- entry point --------------------------------------------------------------------------

    def lookup(self, name: str, qtype: int, zone: str, chain: tuple[str, ...] = ()) -> Records:
        """Records for ``name`` (lower-case, absolute) in ``zone``, one of the served zones.

        ``chain`` holds the owners of the CNAMEs already followed to reach ``name``.
        """
        tags: set[Tag] = set()
        if reverse.is_reverse(zone):
            return self._reverse(name, qtype, zone, tags)
        labels = dnsname.text_relative(name, zone)
        if not labels:
            return self._apex(name, qtype, zone, tags)
        if labels == ["dns-version"]:
            if qtype == TXT:
                rr = dnslib.RR(name, TXT, ttl=DNS_VERSION_TTL, rdata=dnslib.TXT(DNS_SCHEMA_VERSION))
                return Records(answer=[rr], tags=tags)
            return self._negative(wire.NOERROR, zone, tags)
        if labels == ["ns", "dns"]:
            return self._ns_dns(name, qtype, zone, tags)
        if labels == ["dns"]:
            return self._negative(wire.NOERROR, zone, tags)
        try:
            request = names.parse(labels)
        except names.InvalidName:
            return self._negative(wire.NXDOMAIN, zone, tags)
        items = self._items(request, zone, tags)
        if items is None:
            return self._negative(wire.NXDOMAIN, zone, tags)
        return self._typed(name, qtype, zone, items, tags, chain)

    # --- name shapes --------------------------------------------------------------------------

    def _items(self, r: names.RecordRequest, zone: str, tags: set[Tag]) -> list[Item] | None:
        """What a parsed name yields; None when the name does not exist."""
        if not r.kind:
            return []
        if r.kind == names.POD:
            return self._pod_items(r, zone, tags)
        tags.add(("ns", r.namespace))
        if not self.store.namespace_exists(r.namespace):
            return None
        if not r.service:
            return []
        tags.add(("svc", r.namespace, r.service))
        svc = self.store.service(r.namespace, r.service)
        if svc is None:
            return None
        if svc.type == "ExternalName":
            return self._external_items(svc, r)
        if self.settings.ignore_empty_service and not svc.headless and not self._has_ready(svc):
            return None
        if r.endpoint or svc.headless:
            return self._endpoint_items(svc, r, zone) or None
        owner = f"{svc.name}.{svc.namespace}.svc.{zone}"
        items = [
            Item(host=ip, port=port.port, target=owner)
            for port in (svc.ports or (_NO_PORT,))
            if _port_matches(port, r)
            for ip in svc.cluster_ips
        ]
        return items or None

    def _external_items(self, svc: objects.Service, r: names.RecordRequest) -> list[Item] | None:
        if r.endpoint or r.port or r.protocol:
            return None
        target = svc.external_name.rstrip(".") + "."
        if _family(target.rstrip(".")):
            if svc.key not in self._warned:
                self._warned.add(svc.key)
                log.warning(
                    "plugin/kubernetes: service %s/%s has an IP address as externalName (%s); "
                    "it gets no records",
                    svc.namespace,
                    svc.name,
                    svc.external_name,
                )
            return None
        return [Item(host=target.lower(), port=-1, target="", cname=True)]

    def _endpoint_name(self, address: store.EndpointAddress) -> str:
        if address.hostname:
            return address.hostname
        if self.settings.endpoint_pod_names and address.pod_name and len(address.pod_name) < 64:
            return address.pod_name
        return dashed(address.address)

    def _ready_addresses(
        self, svc: objects.Service
    ) -> list[tuple[store.EndpointAddress, tuple[objects.Port, ...]]]:
        if self.settings.noendpoints:
            return []
        out = []
        for subset in self.store.endpoints(svc.namespace, svc.name):
            for address in subset.addresses:
                if address.ready and address.address_type in ("IPv4", "IPv6"):
                    out.append((address, subset.ports))
        return out

    def _has_ready(self, svc: objects.Service) -> bool:
        return bool(self._ready_addresses(svc))

    def _endpoint_items(
        self, svc: objects.Service, r: names.RecordRequest, zone: str
    ) -> list[Item]:
        items = []
        for address, ports in self._ready_addresses(svc):
            endpoint = self._endpoint_name(address).lower()
            if r.endpoint and endpoint != r.endpoint:
                continue
            target = f"{endpoint}.{svc.name}.{svc.namespace}.svc.{zone}"
            for port in ports or (_NO_PORT,):
                if _port_matches(port, r):
                    items.append(Item(host=address.address, port=port.port, target=target))
        return items

    def _pod_items(self, r: names.RecordRequest, zone: str, tags: set[Tag]) -> list[Item] | None:
        mode = self.settings.pods
        if mode == "disabled":
            return None
        tags.add(("ns", r.namespace))
        if not self.store.namespace_exists(r.namespace):
            return None
        if not r.service:
            return []
        label = r.service
        if label.count("-") == 3 and "--" not in label:
            ip = label.replace("-", ".")
        else:
            ip = label.replace("-", ":")
        if not _family(ip):
            return None
        target = f"{label}.{r.namespace}.pod.{zone}"
        if mode == "insecure":
            return [Item(host=ip, port=0, target=target)]
        tags.add(("ip", ip))
        pods = [p for p in self.store.pods_by_ip(ip) if p.namespace == r.namespace and p.ip == ip]
        return [Item(host=ip, port=0, target=target)] if pods else None

    # --- per query type -----------------------------------------------------------------------

    def _typed(
        self,
        name: str,
        qtype: int,
        zone: str,
        items: list[Item],
        tags: set[Tag],
        chain: tuple[str, ...],
    ) -> Records:
        ttl = self.settings.ttl
        cnames = [i for i in items if i.cname]
        if cnames and qtype != CNAME:
            return self._follow(name, qtype, zone, cnames[0].host, tags, chain)
        out = Records(tags=tags)
        if qtype in (A, AAAA):
            version = 4 if qtype == A else 6
            seen: set[str] = set()
            for item in items:
                if item.host not in seen and _family(item.host) == version:
                    seen.add(item.host)
                    out.answer.append(self._address(name, item.host))
        elif qtype == SRV:
            self._srv(name, items, out)
        elif qtype == CNAME:
            out.answer = [
                dnslib.RR(name, CNAME, ttl=ttl, rdata=dnslib.CNAME(i.host)) for i in cnames
            ]
        if not out.answer:
            out.authority = [self.soa(zone)]
        return out

    def _srv(self, name: str, items: list[Item], out: Records) -> None:
        ttl = self.settings.ttl
        # CoreDNS weighs every item, port-less and duplicate ones included.
        weight = max(1, 100 // len(items)) if items else 100
        seen_srv: set[tuple[str, int]] = set()
        seen_addr: set[tuple[str, str]] = set()
        for item in items:
            if item.port == -1:
                continue
            if (item.target, item.port) not in seen_srv:
                seen_srv.add((item.target, item.port))
                rdata = dnslib.SRV(0, weight, item.port, item.target)
                out.answer.append(dnslib.RR(name, SRV, ttl=ttl, rdata=rdata))
            if (item.target, item.host) not in seen_addr:
                seen_addr.add((item.target, item.host))
                out.additional.append(self._address(item.target, item.host))

    def _follow(
        self,
        name: str,
        qtype: int,
        zone: str,
        target: str,
        tags: set[Tag],
        chain: tuple[str, ...],
    ) -> Records:
        """``name`` is a CNAME to ``target``: answer the CNAME, then the target's records.

        ``x CNAME x`` is dropped (the name has no data), as CoreDNS does. A chain stops at
        ``MAX_CNAME_CHAIN`` CNAMEs or where it loops back; such a chain has no data of the type
        asked, so the zone SOA goes with it (a NODATA answer that keeps its CNAMEs).
        """
        if target == name or len(chain) >= MAX_CNAME_CHAIN:
            return Records(authority=[self.soa(zone)], tags=tags)
        cname = dnslib.RR(name, CNAME, ttl=self.settings.ttl, rdata=dnslib.CNAME(target))
        out = Records(answer=[cname], tags=tags)
        chain = (*chain, name)
        if target in chain:
            out.authority = [self.soa(zone)]
            return out
        inner_zone = self._zone_of(target)
        if inner_zone is None:
            out.chase.append(target)
            return out
        inner = self.lookup(target, qtype, inner_zone, chain)
        out.tags |= inner.tags
        out.answer.extend(inner.answer)
        out.additional.extend(inner.additional)
        out.chase.extend(inner.chase)
        # The target's rcode and SOA (NXDOMAIN, NODATA, a chain that stopped) are the answer's.
        out.rcode = inner.rcode
        out.authority = inner.authority
        return out

    def _zone_of(self, name: str) -> str | None:
        return dnsname.text_longest(name, self.settings.zones)

    # --- apex, NS --------------------------------------------------------------------------------

    def _apex(self, name: str, qtype: int, zone: str, tags: set[Tag]) -> Records:
        if qtype == SOA:
            return Records(answer=[self.soa(zone)], tags=tags)
        if qtype == NS:
            out = Records(tags=tags)
            # A reverse zone's nameservers are named in the primary zone, where they resolve.
            named_in = self.settings.primary if reverse.is_reverse(zone) else zone
            for ns_name, addresses in self._nameservers(named_in, tags):
                rdata = dnslib.NS(ns_name)
                out.answer.append(dnslib.RR(name, NS, ttl=self.settings.ttl, rdata=rdata))
                out.additional.extend(self._address(ns_name, a) for a in addresses)
            if out.answer:
                return out
        return self._negative(wire.NOERROR, zone, tags)

    def _ns_dns(self, name: str, qtype: int, zone: str, tags: set[Tag]) -> Records:
        out = Records(tags=tags)
        if qtype in (A, AAAA):
            version = 4 if qtype == A else 6
            for _, addresses in self._nameservers(zone, tags):
                out.answer.extend(
                    self._address(name, a) for a in addresses if _family(a) == version
                )
        if not out.answer:
            out.authority = [self.soa(zone)]
        return out

    def _nameservers(self, zone: str, tags: set[Tag]) -> list[tuple[str, list[str]]]:
        """CoreDNS's nsAddrs: the Service whose endpoints hold kdns's own addresses, else ns.dns."""
        found: dict[str, list[str]] = {}
        local = self.settings.local_addresses
        for address in local:
            tags.add(("ip", address))
            if self.settings.noendpoints:
                continue
            for eps, endpoint in self.store.endpoints_by_ip(address):
                # Only a ready endpoint is one of the Service's backends (CoreDNS indexes no other).
                if not endpoint.ready:
                    continue
                svc = self.store.service(eps.namespace, eps.service)
                if svc is None:
                    continue
                tags.add(("svc", svc.namespace, svc.name))
                base = f"{svc.name}.{svc.namespace}.svc.{zone}"
                if svc.headless:
                    host = self._endpoint_name(_as_address(eps, endpoint, address)).lower()
                    found.setdefault(f"{host}.{base}", []).append(address)
                else:
                    glue = found.setdefault(base, [])
                    glue.extend(ip for ip in svc.cluster_ips if ip not in glue)
        if not found and local:
            found[f"ns.dns.{zone}"] = list(local)
        return list(found.items())

    # --- reverse ---------------------------------------------------------------------------------

    def _reverse(self, name: str, qtype: int, zone: str, tags: set[Tag]) -> Records:
        if name == zone:
            # The apex of a served reverse zone exists: its SOA, the cluster's NS, else NODATA.
            return self._apex(name, qtype, zone, tags)
        ip = reverse.address(name)
        if ip is None:
            return self._negative(wire.NXDOMAIN, zone, tags)
        tags.add(("ip", ip))
        targets = self._ptr_targets(ip, tags)
        if not targets:
            return self._negative(wire.NXDOMAIN, zone, tags)
        if qtype != PTR:
            return self._negative(wire.NOERROR, zone, tags)
        ttl = self.settings.ttl
        answer = [dnslib.RR(name, PTR, ttl=ttl, rdata=dnslib.PTR(t)) for t in targets]
        return Records(answer=answer, tags=tags)

    def _ptr_targets(self, ip: str, tags: set[Tag]) -> list[str]:
        primary = self.settings.primary
        for svc in self.store.services_by_ip(ip):
            # The answer depends on the namespace existing: a Namespace event must drop it.
            tags.add(("ns", svc.namespace))
            if self.store.namespace_exists(svc.namespace):
                tags.add(("svc", svc.namespace, svc.name))
                return [f"{svc.name}.{svc.namespace}.svc.{primary}"]
        if self.settings.noendpoints:
            return []
        targets: list[str] = []
        for eps, endpoint in self.store.endpoints_by_ip(ip):
            if not endpoint.ready:
                continue
            tags.add(("ns", eps.namespace))
            if not self.store.namespace_exists(eps.namespace):
                continue
            tags.add(("svc", eps.namespace, eps.service))
            host = self._endpoint_name(_as_address(eps, endpoint, ip)).lower()
            target = f"{host}.{eps.service}.{eps.namespace}.svc.{primary}"
            if target not in targets:
                targets.append(target)
        return targets


_NO_PORT = objects.Port(name="", protocol="", port=-1)


def _as_address(
    eps: objects.EndpointSlice, endpoint: objects.Endpoint, ip: str
) -> store.EndpointAddress:
    """One address of a slice's endpoint, as the merged view names it."""
    return store.EndpointAddress(
        address=ip,
        address_type=eps.address_type,
        ready=endpoint.ready,
        hostname=endpoint.hostname,
        pod_name=endpoint.pod_name,
    )


def _port_matches(port: objects.Port, r: names.RecordRequest) -> bool:
    if r.port and r.port != port.name.lower():
        return False
    return not (r.protocol and r.protocol != port.protocol.lower())

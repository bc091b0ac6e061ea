"""Answers for names under the external zones, synthesised per query from the watch cache.

Every reply is authoritative. A/AAAA give the external IPs of the asked family (owner the query
name, TTL ``ttl``); a load balancer hostname gives a CNAME (the kubernetes plugin's TTL) and the
target's records looked up through the server. SRV gives one record per address and port;
PTR, in reverse zones listed among the plugin's zones, names the Services holding an address.
A name that does not exist is NXDOMAIN with the zone's SOA, or goes to the next plugin when
``fallthrough`` covers it; names under ``APEX.ZONE`` never fall through.
"""

from __future__ import annotations

import dnslib

from kdns import plugin, render, replay, wire
from kdns.cluster import reverse
from kdns.pkg import dnsname
from kdns.pkg.fall import Fall
from kdns.plugins.k8s_external import lookup
from kdns.plugins.k8s_external.lookup import AAAA, NS, PTR, SRV, A, Found, Lookup
from kdns.request import Request

SOA = 6
CNAME = 5
_TRANSFERS = (251, 252)
#: SOA timers: refresh, retry, expire (CoreDNS's code, not its README, which shows others).
SOA_TIMERS = (7200, 1800, 86400)


class K8sExternal:
    name = "k8s_external"

    def __init__(
        self,
        next: plugin.Handler,
        *,
        zones: tuple[str, ...],
        apex: str,
        ttl: int,
        fall: Fall,
        find: Lookup,
    ) -> None:
        self.next = next
        self.zones = zones
        #: Each zone's wire form to (wire form, text); the first spelling of a repeated zone.
        self._wire_zones: dict[bytes, tuple[bytes, str]] = {}
        for text in zones:
            zone_wire = wire.text_to_name(text)
            self._wire_zones.setdefault(zone_wire, (zone_wire, text))
        self.apex = apex
        self.ttl = ttl
        self.fall = fall
        self.find = find
        #: Its answers are made per query and never kept. What it passes on depends on the
        #: query alone, unless ``fallthrough`` hands on names the cache does not hold, which
        #: depends on the cluster: then no route with it replays.
        self.lease: replay.Lease | None = None if fall.zones else replay.PURE

    def serve(self, req: Request) -> plugin.Result:
        qname = req.key[:-4]
        zone = dnsname.longest(qname, self._wire_zones)
        if zone is None:
            return self.next.serve(req)
        if req.qtype in _TRANSFERS:
            return wire.Answer.failure(wire.REFUSED)
        zone_wire, zone_text = zone
        below = dnsname.relative(qname, zone_wire)
        try:
            rel = [label.decode("ascii") for label in below]
        except UnicodeDecodeError:
            return self._name_error(req, zone_text)
        if not rel:
            return self._apex(req, zone_text)
        if rel[-1] == self.apex:
            return self._nameservers(req, zone_text, rel)
        if reverse.is_reverse(zone_text):
            return self._reverse(req, zone_text)
        if len(rel) == 1:
            if self.find.namespace_exposed(rel[0]):
                return self._nodata(req, zone_text)
            return self._name_error(req, zone_text)
        found = self.find.find(rel)
        if found is None:
            return self._name_error(req, zone_text)
        if req.qtype in (A, AAAA):
            return self._addresses(req, zone_text, found)
        if req.qtype == SRV:
            return self._srv(req, zone_text, found)
        return self._nodata(req, zone_text)

    # --- answers ---------------------------------------------------------------------------

    def _soa(self, zone: str) -> dnslib.RR:
        ns = f"ns1.{self.apex}.{zone}"
        serial = self.find.store.serial
        rdata = dnslib.SOA(ns, f"hostmaster.{self.apex}.{zone}", (serial, *SOA_TIMERS, self.ttl))
        return dnslib.RR(zone, SOA, ttl=self.ttl, rdata=rdata)

    def _reply(
        self,
        req: Request,
        *,
        rcode: int = wire.NOERROR,
        answer: list[dnslib.RR] | tuple[dnslib.RR, ...] = (),
        authority: list[dnslib.RR] | tuple[dnslib.RR, ...] = (),
        additional: list[dnslib.RR] | tuple[dnslib.RR, ...] = (),
    ) -> wire.Answer:
        return render.answer(
            req.name,
            req.qtype,
            rcode=rcode,
            answer=answer,
            authority=authority,
            additional=additional,
            plugin=self.name,
        )

    def _nodata(self, req: Request, zone: str) -> wire.Answer:
        return self._reply(req, authority=[self._soa(zone)])

    def _name_error(self, req: Request, zone: str, *, fall: bool = True) -> plugin.Result:
        if fall and self.fall.through(req.key[:-4]):
            return self.next.serve(req)
        return self._reply(req, rcode=wire.NXDOMAIN, authority=[self._soa(zone)])

    def _apex(self, req: Request, zone: str) -> plugin.Result:
        if req.qtype == SOA:
            return self._reply(req, answer=[self._soa(zone)])
        if req.qtype == NS:
            ns = f"ns1.{self.apex}.{zone}"
            record = dnslib.RR(req.name, NS, ttl=self.ttl, rdata=dnslib.NS(ns))
            glue = [_address(ns, a, self.ttl) for a in self.find.nameserver_addresses()]
            return self._reply(req, answer=[record], additional=glue)
        return self._nodata(req, zone)

    def _nameservers(self, req: Request, zone: str, rel: list[str]) -> plugin.Result:
        if rel == [self.apex]:
            return self._nodata(req, zone)
        if rel != ["ns1", self.apex]:
            return self._name_error(req, zone, fall=False)
        if req.qtype not in (A, AAAA):
            return self._nodata(req, zone)
        records = [
            _address(req.name, a, self.ttl)
            for a in self.find.nameserver_addresses()
            if lookup.Target(a).family == req.qtype
        ]
        if not records:
            return self._nodata(req, zone)
        return self._reply(req, answer=records)

    def _reverse(self, req: Request, zone: str) -> plugin.Result:
        address = reverse.address(req.name)
        if address is None:
            return self._name_error(req, zone)
        services = self.find.services_with(address)
        if not services:
            return self._name_error(req, zone)
        if req.qtype != PTR:
            return self._nodata(req, zone)
        primary = next((z for z in self.zones if not reverse.is_reverse(z)), zone)
        records = [
            dnslib.RR(
                req.name, PTR, ttl=self.ttl, rdata=dnslib.PTR(f"{s.name}.{s.namespace}.{primary}")
            )
            for s in services
        ]
        return self._reply(req, answer=records)

    def _addresses(self, req: Request, zone: str, found: Found) -> plugin.Result:
        records = [
            _address(req.name, t.address, self.ttl)
            for t in found.targets
            if t.is_ip and t.family == req.qtype
        ]
        hostnames = [t.address for t in found.targets if not t.is_ip]
        if not hostnames:
            if not records:
                return self._nodata(req, zone)
            return self._reply(req, answer=records)
        return self._with_cnames(req, zone, records, hostnames)

    async def _with_cnames(
        self, req: Request, zone: str, records: list[dnslib.RR], hostnames: list[str]
    ) -> wire.Answer:
        """CNAMEs to load balancer hostnames, each followed by what the server answers for it."""
        kube_ttl = self.find.settings.ttl
        answer = list(records)
        for host in dict.fromkeys(hostnames):
            target = host if host.endswith(".") else host + "."
            answer.append(dnslib.RR(req.name, CNAME, ttl=kube_ttl, rdata=dnslib.CNAME(target)))
            result = await plugin.resolve(plugin.lookup(req, target, req.qtype))
            if result.body is not None and result.ancount:
                sub = plugin.subrequest(req, target, req.qtype)
                reply = dnslib.DNSRecord.parse(wire.finalize(sub, result, wire.MAX_MESSAGE))
                answer.extend(reply.rr)
        return self._reply(req, answer=answer)

    def _srv(self, req: Request, zone: str, found: Found) -> wire.Answer:
        ports = [p for p in found.ports if p.port >= 0]
        if not ports:
            return self._nodata(req, zone)
        count = len(found.targets) * len(ports)
        weight = max(1, 100 // count)
        service_name = f"{found.service}.{found.namespace}.{zone}"
        answer = []
        extra: dict[str, list[dnslib.RR]] = {}
        for target in found.targets:
            if not target.is_ip:
                name = target.address if target.address.endswith(".") else target.address + "."
            else:
                name = f"{target.endpoint}.{service_name}" if target.endpoint else service_name
                extra.setdefault(name, []).append(_address(name, target.address, self.ttl))
            for port in ports:
                rdata = dnslib.SRV(0, weight, port.port, name)
                answer.append(dnslib.RR(req.name, SRV, ttl=self.find.settings.ttl, rdata=rdata))
        additional = [rr for records in extra.values() for rr in records]
        return self._reply(req, answer=answer, additional=additional)


def _address(owner: str, address: str, ttl: int) -> dnslib.RR:
    if ":" in address:
        return dnslib.RR(owner, AAAA, ttl=ttl, rdata=dnslib.AAAA(address))
    return dnslib.RR(owner, A, ttl=ttl, rdata=dnslib.A(address))

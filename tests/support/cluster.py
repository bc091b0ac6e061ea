"""A fixture cluster in a directly filled store, the kubernetes handler over it, and a case runner.

Nothing here touches the network: the store is filled through the same sinks the watch layer
writes into (``store.sink(kind).upsert(raw)`` with the raw JSON the fake API server's builders
produce), queries are dnslib-built ``Request`` objects, and replies are parsed with dnspython
from ``wire.finalize`` output, as a client would see them.

Cases are written as CoreDNS writes its ``test.Case``: query name and type, rcode, and the
answer/authority/additional sections as zone-file lines. Answer and additional are compared as
multisets (CoreDNS's ``test.SortAndCheck`` sorts them too); authority is compared in order.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dnslib

from kdns import plugin, render, wire
from kdns.cluster import kubernetes as records
from kdns.kube import store
from kdns.pkg import fall
from kdns.plugins.kubernetes import answers, handler
from kdns.request import Request
from kdns.server.zones import Route, ZoneTable
from tests.support import apiserver as fa
from tests.support.seam import NextHandler

Obj = dict[str, Any]

ZONE = "cluster.local."
ZONES = ("cluster.local.", "in-addr.arpa.", "ip6.arpa.")
#: The store's clock starts here, so every SOA serial is predictable.
T0 = 1_700_000_000
#: kdns's own pod address (the apex NS glue comes from the Service whose endpoints hold it).
LOCAL_ADDRESS = "10.244.0.53"


def soa(zone: str = ZONE, *, ttl: int = 5, serial: int = T0, owner: str | None = None) -> str:
    """The SOA line kdns synthesizes for ``zone`` (``owner`` keeps a query's letter case)."""
    name = owner or zone
    return (
        f"{name} {min(ttl, 300)} IN SOA ns.dns.{name} hostmaster.{name} "
        f"{serial} 7200 1800 86400 {ttl}"
    )


class Clock:
    """A settable time source for the store (its SOA serial is the time of the last change)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the fixture cluster ------------------------------------------------------------------------


def _port(name: str | None, port: int, protocol: str = "TCP") -> Obj:
    entry: Obj = {"port": port, "protocol": protocol}
    if name is not None:
        entry["name"] = name
    return entry


def ready_but_not_serving(*addresses: str, hostname: str | None = None) -> Obj:
    """An endpoint the EndpointSlice controller marks ready for publishNotReadyAddresses."""
    entry = fa.endpoint(*addresses, ready=True, hostname=hostname)
    entry["conditions"] = {"ready": True, "serving": False, "terminating": False}
    return entry


def fixture_objects() -> dict[store.Kind, list[Obj]]:
    """Every shape of the SPEC-NOTES walk-through, as the API server would list it."""
    http = _port("http", 80)
    services = [
        # The API server's own service, a target for ExternalName in-cluster chasing.
        fa.service("kubernetes", "default", cluster_ips=["10.96.0.1"], ports=[_port("https", 443)]),
        # kube-dns: three named ports, two of them on 53 (UDP and TCP).
        fa.service(
            "kube-dns",
            "kube-system",
            cluster_ips=["10.96.0.10"],
            ports=[_port("dns", 53, "UDP"), _port("dns-tcp", 53), _port("metrics", 9153)],
        ),
        # ClusterIP with named TCP and UDP ports and endpoints.
        fa.service(
            "web",
            "testns",
            cluster_ips=["10.96.0.20"],
            ports=[_port("http", 80), _port("syslog", 514, "UDP")],
        ),
        # Another service selecting one of web's pods (two PTRs for that pod IP).
        fa.service("other", "testns", cluster_ips=["10.96.0.21"], ports=[http]),
        # Dual-stack ClusterIP.
        fa.service("dual", "testns", cluster_ips=["10.96.0.30", "fd00:10:96::30"], ports=[http]),
        # One unnamed port.
        fa.service("single", "testns", cluster_ips=["10.96.0.31"], ports=[_port(None, 8080)]),
        # No ports at all.
        fa.service("noports", "testns", cluster_ips=["10.96.0.40"], ports=[]),
        # ClusterIP without any endpoints (ignore empty_service).
        fa.service("lonely", "testns", cluster_ips=["10.96.0.50"], ports=[http]),
        # Headless with a selector: three slices, hostnames, duplicates, not-ready, IPv6.
        fa.service("hdls", "testns", cluster_ips=["None"], ports=[http]),
        # Headless without a selector: a hand-written slice without ports.
        fa.service("manual", "testns", cluster_ips=["None"], ports=[_port("tcp-svc", 9000)]),
        # publishNotReadyAddresses: the controller wrote ready=true for unready pods.
        fa.service(
            "pnr",
            "testns",
            cluster_ips=["None"],
            ports=[_port("peer", 2380)],
            publish_not_ready=True,
        ),
        # Headless with only not-ready endpoints: NXDOMAIN.
        fa.service("unready", "testns", cluster_ips=["None"], ports=[http]),
        # ExternalName in the cluster, outside it, and to an IP literal.
        fa.service(
            "ext-in",
            "testns",
            type="ExternalName",
            external_name="web.testns.svc.cluster.local",
            ports=[],
        ),
        fa.service(
            "ext-out", "testns", type="ExternalName", external_name="www.example.org", ports=[]
        ),
        fa.service("ext-ip", "testns", type="ExternalName", external_name="10.1.2.3", ports=[]),
        fa.service(
            "ext-api",
            "default",
            type="ExternalName",
            external_name="kubernetes.default.svc.cluster.local.",
            ports=[],
        ),
        # A service whose Namespace object does not exist: nothing under it exists.
        fa.service("orphan", "ghost", cluster_ips=["10.96.0.99"], ports=[http]),
    ]
    web_ports = [_port("http", 8080), _port("syslog", 5514, "UDP")]
    slices = [
        fa.endpoint_slice(
            "kube-dns-abcde",
            "kube-system",
            service="kube-dns",
            endpoints=[fa.endpoint(LOCAL_ADDRESS, pod="coredns-5d78c9869d-abcde")],
            ports=[_port("dns", 53, "UDP"), _port("dns-tcp", 53), _port("metrics", 9153)],
        ),
        fa.endpoint_slice(
            "web-abcde",
            "testns",
            service="web",
            endpoints=[
                fa.endpoint("10.244.1.1", pod="web-0", ns="testns"),
                fa.endpoint("10.244.1.2", pod="web-1", ns="testns"),
                fa.endpoint("10.244.1.3", pod="web-2", ns="testns", ready=False),
            ],
            ports=web_ports,
        ),
        fa.endpoint_slice(
            "other-abcde",
            "testns",
            service="other",
            endpoints=[fa.endpoint("10.244.1.1", pod="web-0", ns="testns")],
            ports=[_port("http", 8080)],
        ),
        fa.endpoint_slice(
            "dual-v4",
            "testns",
            service="dual",
            endpoints=[fa.endpoint("10.244.5.1", pod="dual-0", ns="testns")],
            ports=[_port("http", 8080)],
        ),
        fa.endpoint_slice(
            "hdls-a",
            "testns",
            service="hdls",
            endpoints=[
                fa.endpoint("10.244.2.1", hostname="db-0", pod="hdls-0", ns="testns"),
                fa.endpoint("10.244.2.2", pod="hdls-1", ns="testns"),
                fa.endpoint("10.244.2.3", pod="hdls-2", ns="testns", ready=False),
                # Unset ready condition: unknown counts as ready.
                fa.endpoint("10.244.2.4", pod="hdls-3", ns="testns", ready=None),
            ],
            ports=[_port("http", 8080)],
        ),
        fa.endpoint_slice(
            "hdls-b",
            "testns",
            service="hdls",
            endpoints=[
                # Also in hdls-a: listed once.
                fa.endpoint("10.244.2.2", pod="hdls-1", ns="testns"),
                # The same hostname as 10.244.2.1: both answer for it.
                fa.endpoint("10.244.2.6", hostname="db-0", pod="hdls-5", ns="testns"),
            ],
            ports=[_port("http", 8080)],
        ),
        fa.endpoint_slice(
            "hdls-v6",
            "testns",
            service="hdls",
            address_type="IPv6",
            endpoints=[
                fa.endpoint("fd00:244::7", pod="hdls-6", ns="testns"),
                fa.endpoint("fd00:244::", pod="hdls-7", ns="testns"),
            ],
            ports=[_port("http", 8080)],
        ),
        # No selector: someone wrote this slice by hand, without ports and without targetRef.
        fa.endpoint_slice(
            "manual-1",
            "testns",
            service="manual",
            endpoints=[fa.endpoint("192.168.10.1"), fa.endpoint("192.168.10.2")],
            ports=[],
            labels={"endpointslice.kubernetes.io/managed-by": "staff"},
        ),
        fa.endpoint_slice(
            "pnr-1",
            "testns",
            service="pnr",
            endpoints=[
                ready_but_not_serving("10.244.3.1", hostname="etcd-0"),
                ready_but_not_serving("10.244.3.2", hostname="etcd-1"),
            ],
            ports=[_port("peer", 2380)],
        ),
        fa.endpoint_slice(
            "unready-1",
            "testns",
            service="unready",
            endpoints=[fa.endpoint("10.244.4.1", ready=False)],
            ports=[_port("http", 8080)],
        ),
        fa.endpoint_slice(
            "orphan-1",
            "ghost",
            service="orphan",
            endpoints=[fa.endpoint("10.244.99.1")],
            ports=[_port("http", 8080)],
        ),
    ]
    namespaces = [fa.namespace(n) for n in ("default", "kube-system", "testns", "empty")]
    pods = [
        fa.pod("web-0", "testns", ip="10.244.1.1"),
        fa.pod("web-1", "testns", ip="10.244.1.2"),
        fa.pod("v6", "testns", ip="fd00:244::9"),
        fa.pod("elsewhere", "default", ip="10.244.9.9"),
        # Terminating pods are never added.
        fa.pod("leaving", "testns", ip="10.244.8.8", deleting=True),
    ]
    return {
        "namespaces": namespaces,
        "services": services,
        "endpointslices": slices,
        "pods": pods,
    }


# --- the handler over it --------------------------------------------------------------------------

OUTSIDE_ZONE = "example.org."


class Upstream:
    """Stands in for the server block that serves ``example.org`` (forward, records...)."""

    name = "upstream"

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def serve(self, req: Request) -> plugin.Result:
        self.seen.append((req.name, req.qtype))
        name, qtype = req.name, req.qtype
        rrs: list[dnslib.RR] = []
        rcode = wire.NOERROR
        if name == "www.example.org." and qtype == dnslib.QTYPE.A:
            rrs = [dnslib.RR(name, dnslib.QTYPE.A, ttl=60, rdata=dnslib.A("192.0.2.10"))]
        elif name == "www.example.org." and qtype == dnslib.QTYPE.AAAA:
            rrs = [dnslib.RR(name, dnslib.QTYPE.AAAA, ttl=60, rdata=dnslib.AAAA("2001:db8::10"))]
        elif name == "big.example.org." and qtype == dnslib.QTYPE.A:
            rrs = [
                dnslib.RR(name, dnslib.QTYPE.A, ttl=60, rdata=dnslib.A(f"192.0.2.{i}"))
                for i in range(1, 101)
            ]
        elif name == "gone.example.org.":
            rcode = wire.NXDOMAIN
        elif name == "broken.example.org.":
            return wire.Answer.failure(wire.SERVFAIL, "upstream failed")
        truncated = False
        if len(rrs) > 20 and req.size < 1232:
            # What an upstream does for a small buffer: what fits, and TC=1.
            rrs, truncated = rrs[:20], True
        return render.answer(
            name,
            qtype,
            rcode=rcode,
            answer=rrs,
            authoritative=False,
            recursion_available=True,
            truncated=truncated,
        )


@dataclasses.dataclass
class Cluster:
    store: store.Store
    clock: Clock
    synth: records.Synthesizer
    handler: handler.Kubernetes
    next: NextHandler
    upstream: Upstream
    table: ZoneTable

    @property
    def answers(self) -> answers.Answers:
        return self.handler.answers

    def apply(self, raw: Obj, *, at: float | None = None) -> None:
        """Create or update an object as a watch event would."""
        if at is not None:
            self.clock.now = at
        self.store.sink(_kind(raw)).upsert(raw)  # type: ignore[arg-type]

    def delete(self, raw: Obj, *, at: float | None = None) -> None:
        if at is not None:
            self.clock.now = at
        self.store.sink(_kind(raw)).delete(raw)  # type: ignore[arg-type]


_KINDS: dict[str, store.Kind] = {
    "Service": "services",
    "EndpointSlice": "endpointslices",
    "Namespace": "namespaces",
    "Pod": "pods",
}


def _kind(raw: Mapping[str, Any]) -> store.Kind:
    return _KINDS[raw["kind"]]


def build(
    *,
    objects: Mapping[store.Kind, Iterable[Obj]] | None = None,
    fallthrough: fall.Fall = fall.ZERO,
    synced: bool = True,
    zones: tuple[str, ...] = ZONES,
    namespaces: Iterable[str] | None = None,
    local_addresses: tuple[str, ...] = (LOCAL_ADDRESS,),
    **settings: Any,
) -> Cluster:
    """The fixture cluster (or ``objects``) behind a kubernetes handler; ``settings`` are
    ``records.Settings`` fields (``pods``, ``ttl``, ``endpoint_pod_names``...)."""
    objs = fixture_objects() if objects is None else objects
    watched: list[store.Kind] = ["services", "namespaces"]
    if not settings.get("noendpoints"):
        watched.append("endpointslices")
    if settings.get("pods") == "verified":
        watched.append("pods")
    clock = Clock()
    exposed = list(namespaces) if namespaces is not None else None
    cache = store.Store(watched=watched, namespaces=exposed, clock=clock)
    for kind in ("namespaces", "services", "endpointslices", "pods"):
        if kind not in watched:
            continue
        sink = cache.sink(kind)
        for raw in objs.get(kind, ()):
            sink.upsert(raw)  # type: ignore[arg-type]
        if synced:
            sink.mark_synced()
    synth = records.Synthesizer(
        cache, records.Settings(zones=zones, local_addresses=local_addresses, **settings)
    )
    following = NextHandler()
    k8s = handler.Kubernetes(following, synthesizer=synth, fall=fallthrough)
    upstream = Upstream()
    routes = [Route(zone=z, handler=k8s, server="dns://:53") for z in zones]
    routes.append(Route(zone=OUTSIDE_ZONE, handler=upstream, server="dns://:53"))
    table = ZoneTable(routes)
    return Cluster(cache, clock, synth, k8s, following, upstream, table)


# --- asking ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    rcode: str
    flags: set[str]
    answer: list[str]
    authority: list[str]
    additional: list[str]
    wire: bytes

    @property
    def aa(self) -> bool:
        return "AA" in self.flags


def request(name: str, qtype: str | int, *, proto: str = "udp", edns: int | None = None) -> Request:
    """A query for ``name`` (presentation form: ``\\.`` is a dot inside a label)."""
    q = dnslib.DNSRecord.question(dnslib.DNSLabel(wire.labels(wire.text_to_name(name))), "A")
    q.q.qtype = qtype if isinstance(qtype, int) else getattr(dnslib.QTYPE, qtype)
    if edns is not None:
        q.add_ar(dnslib.EDNS0(udp_len=edns))
    return Request(bytes(q.pack()), proto, ("127.0.0.1", 5353))


def parse(req: Request, result: wire.Answer) -> Reply:
    data = wire.finalize(req, result, req.size)
    msg = dns.message.from_wire(data, ignore_trailing=True)
    return Reply(
        rcode=dns.rcode.to_text(msg.rcode()),
        flags=set(dns.flags.to_text(msg.flags).split()),
        answer=_lines(msg.answer),
        authority=_lines(msg.authority),
        additional=_lines(msg.additional),
        wire=data,
    )


def ask(c: Cluster, name: str, qtype: str | int = "A", **kw: Any) -> Reply:
    """Serve one query that must be answered without waiting."""
    req = request(name, qtype, **kw)
    req.table = c.table
    result = c.handler.serve(req)
    assert not inspect.isawaitable(result), f"{name} {qtype} needed to wait"
    assert isinstance(result, wire.Answer)
    return parse(req, result)


async def ask_async(c: Cluster, name: str, qtype: str | int = "A", **kw: Any) -> Reply:
    """Serve one query that may need a lookup through the chain (CNAME chasing)."""
    req = request(name, qtype, **kw)
    req.table = c.table
    return parse(req, await plugin.resolve(c.handler.serve(req)))


def _lines(section: list[Any]) -> list[str]:
    return [line for rrset in section for line in rrset.to_text().splitlines()]


# --- cases ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """CoreDNS's test.Case: the expected reply to one question."""

    qname: str
    qtype: str = "A"
    rcode: str = "NOERROR"
    answer: tuple[str, ...] = ()
    ns: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.qname} {self.qtype}"


def norm(lines: Iterable[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines]


def check(reply: Reply, case: Case) -> None:
    where = str(case)
    assert reply.rcode == case.rcode, f"{where}: rcode {reply.rcode}\n{reply}"
    assert reply.aa, f"{where}: not authoritative"
    assert "RA" not in reply.flags, f"{where}: RA set"
    assert sorted(reply.answer) == sorted(norm(case.answer)), f"{where}: answer"
    assert reply.authority == norm(case.ns), f"{where}: authority"
    assert sorted(reply.additional) == sorted(norm(case.extra)), f"{where}: additional"


def nxdomain(qname: str, qtype: str = "A", *, ttl: int = 5, serial: int = T0) -> Case:
    return Case(qname, qtype, "NXDOMAIN", ns=(soa(ttl=ttl, serial=serial),))


def nodata(qname: str, qtype: str = "A", *, ttl: int = 5, serial: int = T0) -> Case:
    return Case(qname, qtype, "NOERROR", ns=(soa(ttl=ttl, serial=serial),))


def ids(cases: Iterable[Case]) -> list[str]:
    return [str(c) for c in cases]

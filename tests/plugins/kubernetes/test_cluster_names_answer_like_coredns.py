"""Every name shape and query type of SPEC-NOTES §2, against the fixture cluster.

Default options (pods disabled, TTL 5). Where CoreDNS has a quirk that is arguably a bug, the
case says which one and what kdns answers instead (SPEC-NOTES §4 "Quirks").
"""

from __future__ import annotations

import pytest

from tests.support import cluster as k
from tests.support.cluster import Case, nodata, nxdomain

SOA = k.soa()
T = "testns.svc.cluster.local."
WEB = f"web.{T}"
DUAL = f"dual.{T}"
HDLS = f"hdls.{T}"
KUBE_DNS = "kube-dns.kube-system.svc.cluster.local."


def rr(owner: str, rtype: str, rdata: str, ttl: int = 5) -> str:
    return f"{owner} {ttl} IN {rtype} {rdata}"


APEX = [
    Case("cluster.local.", "SOA", answer=(SOA,)),
    Case(
        "cluster.local.",
        "NS",
        answer=(rr("cluster.local.", "NS", KUBE_DNS),),
        extra=(rr(KUBE_DNS, "A", "10.96.0.10"),),
    ),
    nodata("cluster.local.", "A"),
    nodata("cluster.local.", "AAAA"),
    # Quirk: CoreDNS answers NXDOMAIN for TXT on names that exist without items.
    nodata("cluster.local.", "TXT"),
    nodata("svc.cluster.local.", "A"),
    nodata("svc.cluster.local.", "TXT"),
    nodata("pod.cluster.local.", "A"),
    Case(
        "dns-version.cluster.local.",
        "TXT",
        answer=(rr("dns-version.cluster.local.", "TXT", '"1.1.0"', 28800),),
    ),
    # Quirk: CoreDNS answers NXDOMAIN for every other type; the name exists, so NODATA.
    nodata("dns-version.cluster.local.", "A"),
    # ns.dns.<zone>: the addresses of the NS records; dns.<zone> is its empty parent.
    Case("ns.dns.cluster.local.", "A", answer=(rr("ns.dns.cluster.local.", "A", "10.96.0.10"),)),
    nodata("ns.dns.cluster.local.", "AAAA"),
    nodata("dns.cluster.local.", "A"),
    # The last label must be svc or pod.
    nxdomain("foo.cluster.local."),
    nxdomain("web.testns.cluster.local."),
    nxdomain("web.testns.foo.cluster.local."),
    # SOA anywhere but the apex: NODATA if the name exists (CoreDNS: even if it does not).
    nodata(WEB, "SOA"),
    nxdomain(f"nope.{T}", "SOA"),
    # Zone transfers need the transfer plugin.
    Case("cluster.local.", "AXFR", "REFUSED"),
]

NAMESPACES = [
    nodata(T, "A"),
    nodata(T, "TXT"),
    nodata(T, "SRV"),
    # A namespace without any object in it still exists.
    nodata("empty.svc.cluster.local."),
    nxdomain("nope.svc.cluster.local."),
    nxdomain("nope.svc.cluster.local.", "TXT"),
    # Objects in a namespace whose Namespace object is not cached do not exist.
    nxdomain("ghost.svc.cluster.local."),
    nxdomain("orphan.ghost.svc.cluster.local."),
    # pods disabled: everything under pod.<zone> but the bare label is NXDOMAIN.
    nxdomain("testns.pod.cluster.local."),
    nxdomain("10-244-1-1.testns.pod.cluster.local."),
    # Wildcards were removed in CoreDNS 1.9.0: plain, non-existent names.
    nxdomain(f"*.{T}"),
    nxdomain(f"any.{T}"),
    nxdomain("web.*.svc.cluster.local."),
]

CLUSTER_IP = [
    Case(WEB, "A", answer=(rr(WEB, "A", "10.96.0.20"),)),
    nodata(WEB, "AAAA"),
    # The bare service name lists every port.
    Case(
        WEB,
        "SRV",
        answer=(rr(WEB, "SRV", f"0 50 80 {WEB}"), rr(WEB, "SRV", f"0 50 514 {WEB}")),
        extra=(rr(WEB, "A", "10.96.0.20"),),
    ),
    Case(
        f"_http._tcp.{WEB}",
        "SRV",
        answer=(rr(f"_http._tcp.{WEB}", "SRV", f"0 100 80 {WEB}"),),
        extra=(rr(WEB, "A", "10.96.0.20"),),
    ),
    # Underscores are optional.
    Case(
        f"syslog.udp.{WEB}",
        "SRV",
        answer=(rr(f"syslog.udp.{WEB}", "SRV", f"0 100 514 {WEB}"),),
        extra=(rr(WEB, "A", "10.96.0.20"),),
    ),
    Case(
        f"_syslog.udp.{WEB}",
        "SRV",
        answer=(rr(f"_syslog.udp.{WEB}", "SRV", f"0 100 514 {WEB}"),),
        extra=(rr(WEB, "A", "10.96.0.20"),),
    ),
    # Port and protocol must both match.
    nxdomain(f"_http._udp.{WEB}", "SRV"),
    nxdomain(f"_nope._tcp.{WEB}", "SRV"),
    nxdomain(f"__http._tcp.{WEB}", "SRV"),
    # An address query on an SRV-shaped name answers the service address (as CoreDNS does).
    Case(f"_http._tcp.{WEB}", "A", answer=(rr(f"_http._tcp.{WEB}", "A", "10.96.0.20"),)),
    # Three or more labels left of the service.
    nxdomain(f"a._http._tcp.{WEB}", "SRV"),
    nxdomain(f"a.b.c.{WEB}"),
    # Endpoint names under a ClusterIP service: the ready endpoint's own address.
    Case(f"10-244-1-1.{WEB}", "A", answer=(rr(f"10-244-1-1.{WEB}", "A", "10.244.1.1"),)),
    Case(
        f"10-244-1-1.{WEB}",
        "SRV",
        answer=(
            rr(f"10-244-1-1.{WEB}", "SRV", f"0 50 8080 10-244-1-1.{WEB}"),
            rr(f"10-244-1-1.{WEB}", "SRV", f"0 50 5514 10-244-1-1.{WEB}"),
        ),
        extra=(rr(f"10-244-1-1.{WEB}", "A", "10.244.1.1"),),
    ),
    # A not-ready endpoint, a pod name without endpoint_pod_names.
    nxdomain(f"10-244-1-3.{WEB}"),
    nxdomain(f"web-0.{WEB}"),
    # Every other type: NODATA, because the name exists.
    nodata(WEB, "TXT"),
    nodata(WEB, "MX"),
    nodata(WEB, "CNAME"),
    nodata(WEB, "PTR"),
    nodata(WEB, "HINFO"),
    nodata(WEB, "ANY"),
    nxdomain(f"nope.{T}", "MX"),
    nxdomain(f"nope.{T}", "PTR"),
    # kube-dns: 53/UDP and 53/TCP collapse into one record; weight counts all three ports.
    Case(
        KUBE_DNS,
        "SRV",
        answer=(
            rr(KUBE_DNS, "SRV", f"0 33 53 {KUBE_DNS}"),
            rr(KUBE_DNS, "SRV", f"0 33 9153 {KUBE_DNS}"),
        ),
        extra=(rr(KUBE_DNS, "A", "10.96.0.10"),),
    ),
    Case(
        f"_dns._udp.{KUBE_DNS}",
        "SRV",
        answer=(rr(f"_dns._udp.{KUBE_DNS}", "SRV", f"0 100 53 {KUBE_DNS}"),),
        extra=(rr(KUBE_DNS, "A", "10.96.0.10"),),
    ),
    # One unnamed port: listed on the bare name, unreachable by port labels.
    Case(
        f"single.{T}",
        "SRV",
        answer=(rr(f"single.{T}", "SRV", f"0 100 8080 single.{T}"),),
        extra=(rr(f"single.{T}", "A", "10.96.0.31"),),
    ),
    nxdomain(f"_http._tcp.single.{T}", "SRV"),
    # No ports: the address works, SRV has nothing to list.
    Case(f"noports.{T}", "A", answer=(rr(f"noports.{T}", "A", "10.96.0.40"),)),
    nodata(f"noports.{T}", "SRV"),
    nxdomain(f"_http._tcp.noports.{T}", "SRV"),
    # Endpoints do not matter to a ClusterIP service's own name.
    Case(f"lonely.{T}", "A", answer=(rr(f"lonely.{T}", "A", "10.96.0.50"),)),
    Case(
        "kubernetes.default.svc.cluster.local.",
        "A",
        answer=(rr("kubernetes.default.svc.cluster.local.", "A", "10.96.0.1"),),
    ),
]

DUAL_STACK = [
    Case(DUAL, "A", answer=(rr(DUAL, "A", "10.96.0.30"),)),
    Case(DUAL, "AAAA", answer=(rr(DUAL, "AAAA", "fd00:10:96::30"),)),
    # One port, two ClusterIPs: one SRV record, weight 50 (items before de-duplication).
    Case(
        DUAL,
        "SRV",
        answer=(rr(DUAL, "SRV", f"0 50 80 {DUAL}"),),
        extra=(rr(DUAL, "A", "10.96.0.30"), rr(DUAL, "AAAA", "fd00:10:96::30")),
    ),
]

HEADLESS_ADDRESSES_V4 = ("10.244.2.1", "10.244.2.2", "10.244.2.4", "10.244.2.6")
HEADLESS_TARGETS = (
    ("db-0", "A", "10.244.2.1"),
    ("db-0", "A", "10.244.2.6"),
    ("10-244-2-2", "A", "10.244.2.2"),
    ("10-244-2-4", "A", "10.244.2.4"),
    ("fd00-244--7", "AAAA", "fd00:244::7"),
    ("fd00-244--0", "AAAA", "fd00:244::"),
)

HEADLESS = [
    # Ready addresses of every slice, a duplicate once, not-ready excluded, unset ready counted.
    Case(HDLS, "A", answer=tuple(rr(HDLS, "A", ip) for ip in HEADLESS_ADDRESSES_V4)),
    # The IPv6 slice; the address ending in "::" is named with a trailing 0.
    Case(HDLS, "AAAA", answer=(rr(HDLS, "AAAA", "fd00:244::7"), rr(HDLS, "AAAA", "fd00:244::"))),
    # Targets are endpoint names, the port is the slice's (target) port, weight 100/6 items
    # (kdns merges the address listed in two slices before counting; CoreDNS would count 7).
    Case(
        HDLS,
        "SRV",
        answer=tuple(
            rr(HDLS, "SRV", f"0 16 8080 {name}.{HDLS}")
            for name in ("db-0", "10-244-2-2", "10-244-2-4", "fd00-244--7", "fd00-244--0")
        ),
        extra=tuple(rr(f"{name}.{HDLS}", t, ip) for name, t, ip in HEADLESS_TARGETS),
    ),
    Case(
        f"_http._tcp.{HDLS}",
        "SRV",
        answer=tuple(
            rr(f"_http._tcp.{HDLS}", "SRV", f"0 16 8080 {name}.{HDLS}")
            for name in ("db-0", "10-244-2-2", "10-244-2-4", "fd00-244--7", "fd00-244--0")
        ),
        extra=tuple(rr(f"{name}.{HDLS}", t, ip) for name, t, ip in HEADLESS_TARGETS),
    ),
    nxdomain(f"_http._udp.{HDLS}", "SRV"),
    # Two endpoints share the hostname db-0: both answer.
    Case(
        f"db-0.{HDLS}",
        "A",
        answer=(rr(f"db-0.{HDLS}", "A", "10.244.2.1"), rr(f"db-0.{HDLS}", "A", "10.244.2.6")),
    ),
    nodata(f"db-0.{HDLS}", "AAAA"),
    Case(
        f"db-0.{HDLS}",
        "SRV",
        answer=(rr(f"db-0.{HDLS}", "SRV", f"0 50 8080 db-0.{HDLS}"),),
        extra=(rr(f"db-0.{HDLS}", "A", "10.244.2.1"), rr(f"db-0.{HDLS}", "A", "10.244.2.6")),
    ),
    Case(f"10-244-2-2.{HDLS}", "A", answer=(rr(f"10-244-2-2.{HDLS}", "A", "10.244.2.2"),)),
    Case(f"10-244-2-4.{HDLS}", "A", answer=(rr(f"10-244-2-4.{HDLS}", "A", "10.244.2.4"),)),
    Case(f"fd00-244--7.{HDLS}", "AAAA", answer=(rr(f"fd00-244--7.{HDLS}", "AAAA", "fd00:244::7"),)),
    Case(f"fd00-244--0.{HDLS}", "AAAA", answer=(rr(f"fd00-244--0.{HDLS}", "AAAA", "fd00:244::"),)),
    # The endpoint with a hostname is not also reachable by its dashed address.
    nxdomain(f"10-244-2-1.{HDLS}"),
    nxdomain(f"10-244-2-3.{HDLS}"),
    nxdomain(f"hdls-1.{HDLS}"),
    nxdomain(f"_http._tcp.db-0.{HDLS}", "SRV"),
    # Only not-ready endpoints: NXDOMAIN, whatever the type.
    nxdomain(f"unready.{T}"),
    nxdomain(f"unready.{T}", "SRV"),
    nxdomain(f"unready.{T}", "TXT"),
    # No selector, a hand-written slice without ports: addresses, no SRV records.
    Case(
        f"manual.{T}",
        "A",
        answer=(rr(f"manual.{T}", "A", "192.168.10.1"), rr(f"manual.{T}", "A", "192.168.10.2")),
    ),
    nodata(f"manual.{T}", "SRV"),
    nxdomain(f"_tcp-svc._tcp.manual.{T}", "SRV"),
    Case(
        f"192-168-10-2.manual.{T}",
        "A",
        answer=(rr(f"192-168-10-2.manual.{T}", "A", "192.168.10.2"),),
    ),
    # publishNotReadyAddresses: the controller marked the unready pods ready.
    Case(
        f"pnr.{T}",
        "A",
        answer=(rr(f"pnr.{T}", "A", "10.244.3.1"), rr(f"pnr.{T}", "A", "10.244.3.2")),
    ),
    Case(
        f"_peer._tcp.pnr.{T}",
        "SRV",
        answer=(
            rr(f"_peer._tcp.pnr.{T}", "SRV", f"0 50 2380 etcd-0.pnr.{T}"),
            rr(f"_peer._tcp.pnr.{T}", "SRV", f"0 50 2380 etcd-1.pnr.{T}"),
        ),
        extra=(rr(f"etcd-0.pnr.{T}", "A", "10.244.3.1"), rr(f"etcd-1.pnr.{T}", "A", "10.244.3.2")),
    ),
    Case(f"etcd-1.pnr.{T}", "A", answer=(rr(f"etcd-1.pnr.{T}", "A", "10.244.3.2"),)),
]

EXT_IN = f"ext-in.{T}"
EXTERNAL_NAME = [
    Case(EXT_IN, "CNAME", answer=(rr(EXT_IN, "CNAME", WEB),)),
    # In-cluster targets are resolved from the cache.
    Case(EXT_IN, "A", answer=(rr(EXT_IN, "CNAME", WEB), rr(WEB, "A", "10.96.0.20"))),
    # Quirk: CoreDNS drops the CNAME when the target has no record of the type; kdns keeps it.
    Case(EXT_IN, "AAAA", answer=(rr(EXT_IN, "CNAME", WEB),), ns=(SOA,)),
    Case(EXT_IN, "TXT", answer=(rr(EXT_IN, "CNAME", WEB),), ns=(SOA,)),
    Case(
        "ext-api.default.svc.cluster.local.",
        "A",
        answer=(
            rr(
                "ext-api.default.svc.cluster.local.",
                "CNAME",
                "kubernetes.default.svc.cluster.local.",
            ),
            rr("kubernetes.default.svc.cluster.local.", "A", "10.96.0.1"),
        ),
    ),
    Case(f"ext-out.{T}", "CNAME", answer=(rr(f"ext-out.{T}", "CNAME", "www.example.org."),)),
    # Names below an ExternalName service do not exist (coredns/coredns#5733).
    nxdomain(f"x.{EXT_IN}"),
    nxdomain(f"_http._tcp.{EXT_IN}", "SRV"),
    # An IP-literal externalName gets no records (CoreDNS answers NXDOMAIN too).
    nxdomain(f"ext-ip.{T}"),
    nxdomain(f"ext-ip.{T}", "CNAME"),
]

CASES = APEX + NAMESPACES + CLUSTER_IP + DUAL_STACK + HEADLESS + EXTERNAL_NAME


@pytest.fixture(scope="module")
def c() -> k.Cluster:
    return k.build()


@pytest.mark.parametrize("case", CASES, ids=k.ids(CASES))
def test_case(c: k.Cluster, case: Case) -> None:
    fresh = k.ask(c, case.qname, case.qtype, proto="tcp")
    if case.rcode == "REFUSED":
        assert fresh.rcode == "REFUSED"
        assert not fresh.answer and not fresh.authority
        return
    k.check(fresh, case)
    # Asked again, it comes from the pre-rendered answers, byte for byte the same.
    assert c.answers.get(k.request(case.qname, case.qtype).key) is not None
    cached = k.ask(c, case.qname, case.qtype, proto="tcp")
    assert cached.wire[2:] == fresh.wire[2:]

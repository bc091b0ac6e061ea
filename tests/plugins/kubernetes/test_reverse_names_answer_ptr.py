"""PTR records for ClusterIPs and ready endpoint addresses, and the reverse zones themselves."""

from __future__ import annotations

import ipaddress

import pytest

from tests.support import cluster as k
from tests.support.cluster import Case

T = "testns.svc.cluster.local."
V4 = k.soa("in-addr.arpa.")
V6 = k.soa("ip6.arpa.")


def rev(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


def ptr(ip: str, *targets: str) -> Case:
    return Case(rev(ip), "PTR", answer=tuple(f"{rev(ip)} 5 IN PTR {t}" for t in targets))


def nx(name: str, qtype: str = "PTR") -> Case:
    soa = V6 if name.endswith("ip6.arpa.") else V4
    return Case(name, qtype, "NXDOMAIN", ns=(soa,))


def nodata(name: str, qtype: str) -> Case:
    soa = V6 if name.endswith("ip6.arpa.") else V4
    return Case(name, qtype, ns=(soa,))


CASES = [
    # A ClusterIP wins and gives exactly one PTR, in both families.
    ptr("10.96.0.20", f"web.{T}"),
    ptr("10.96.0.30", f"dual.{T}"),
    ptr("fd00:10:96::30", f"dual.{T}"),
    ptr("10.96.0.10", "kube-dns.kube-system.svc.cluster.local."),
    # An endpoint of a ClusterIP service, and a pod selected by two services: one PTR each.
    ptr("10.244.1.2", f"10-244-1-2.web.{T}"),
    ptr("10.244.1.1", f"10-244-1-1.web.{T}", f"10-244-1-1.other.{T}"),
    ptr("10.244.0.53", "10-244-0-53.kube-dns.kube-system.svc.cluster.local."),
    # Headless: the hostname, else the dashed address; an address in two slices: one PTR.
    ptr("10.244.2.1", f"db-0.hdls.{T}"),
    ptr("10.244.2.6", f"db-0.hdls.{T}"),
    ptr("10.244.2.2", f"10-244-2-2.hdls.{T}"),
    ptr("10.244.2.4", f"10-244-2-4.hdls.{T}"),
    ptr("fd00:244::7", f"fd00-244--7.hdls.{T}"),
    ptr("fd00:244::", f"fd00-244--0.hdls.{T}"),
    ptr("192.168.10.1", f"192-168-10-1.manual.{T}"),
    ptr("10.244.3.1", f"etcd-0.pnr.{T}"),
    # Not-ready endpoints, unknown addresses, objects in a namespace that does not exist.
    nx(rev("10.244.1.3")),
    nx(rev("10.244.2.3")),
    nx(rev("10.244.4.1")),
    nx(rev("192.0.2.1")),
    nx(rev("2001:db8::1")),
    nx(rev("10.96.0.99")),
    nx(rev("10.244.99.1")),
    # Partial and malformed reverse names.
    nx("0.96.10.in-addr.arpa."),
    nx("10.in-addr.arpa."),
    nx("300.0.96.10.in-addr.arpa."),
    nx("x.0.96.10.in-addr.arpa."),
    nx("1.20.0.96.10.in-addr.arpa."),
    nx("d.f.ip6.arpa."),
    # Quirk: CoreDNS answers NXDOMAIN for other types on a reverse name; it exists: NODATA.
    nodata(rev("10.96.0.20"), "A"),
    nodata(rev("10.96.0.20"), "TXT"),
    nx(rev("192.0.2.1"), "A"),
    # The apex of each reverse zone: SOA, the cluster's NS, NODATA for the rest.
    Case("in-addr.arpa.", "SOA", answer=(V4,)),
    Case("ip6.arpa.", "SOA", answer=(V6,)),
    Case(
        "in-addr.arpa.",
        "NS",
        answer=("in-addr.arpa. 5 IN NS kube-dns.kube-system.svc.cluster.local.",),
        extra=("kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10",),
    ),
    nodata("in-addr.arpa.", "PTR"),
    nodata("ip6.arpa.", "A"),
]


@pytest.fixture(scope="module")
def c() -> k.Cluster:
    return k.build()


@pytest.mark.parametrize("case", CASES, ids=k.ids(CASES))
def test_reverse(c: k.Cluster, case: Case) -> None:
    k.check(k.ask(c, case.qname, case.qtype, proto="tcp"), case)


def test_ptr_targets_are_named_in_the_primary_zone() -> None:
    """The first forward zone names PTR targets, whatever zone order the Corefile had."""
    c = k.build(zones=("in-addr.arpa.", "example.internal.", "cluster.local."))
    reply = k.ask(c, rev("10.96.0.20"), "PTR")
    assert reply.answer == [f"{rev('10.96.0.20')} 5 IN PTR web.testns.svc.example.internal."]


def test_reverse_names_need_their_reverse_zone() -> None:
    """Without ip6.arpa among the zones, an IPv6 reverse name is not this plugin's."""
    c = k.build(zones=("cluster.local.", "in-addr.arpa."))
    reply = k.ask(c, rev("fd00:10:96::30"), "PTR")
    assert reply.rcode == "NOTIMP"  # the fake next plugin's answer
    assert c.next.seen == [rev("fd00:10:96::30")]


def test_namespaces_filter_hides_ptrs() -> None:
    c = k.build(namespaces=["kube-system"])
    k.check(k.ask(c, rev("10.96.0.20"), "PTR"), nx(rev("10.96.0.20")))
    k.check(k.ask(c, rev("10.244.1.1"), "PTR"), nx(rev("10.244.1.1")))
    k.check(
        k.ask(c, rev("10.96.0.10"), "PTR"),
        ptr("10.96.0.10", "kube-dns.kube-system.svc.cluster.local."),
    )

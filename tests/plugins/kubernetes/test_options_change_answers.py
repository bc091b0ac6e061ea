"""What each kubernetes option changes in the answers: pods, endpoint_pod_names, ttl,
ignore empty_service, noendpoints, namespaces, and the apex NS from kdns's own addresses."""

from __future__ import annotations

import ipaddress

import pytest

from tests.support import apiserver as fa
from tests.support import cluster as k
from tests.support.cluster import Case, nodata, nxdomain

T = "testns.svc.cluster.local."
P = "testns.pod.cluster.local."


def rr(owner: str, rtype: str, rdata: str, ttl: int = 5) -> str:
    return f"{owner} {ttl} IN {rtype} {rdata}"


def run(c: k.Cluster, cases: list[Case]) -> None:
    for case in cases:
        k.check(k.ask(c, case.qname, case.qtype, proto="tcp"), case)


# --- pods ------------------------------------------------------------------------------------------

POD_INSECURE = [
    Case(f"10-244-1-1.{P}", "A", answer=(rr(f"10-244-1-1.{P}", "A", "10.244.1.1"),)),
    # No pod check: any address in an existing namespace.
    Case(f"1-2-3-4.{P}", "A", answer=(rr(f"1-2-3-4.{P}", "A", "1.2.3.4"),)),
    Case(f"fd00-244--9.{P}", "AAAA", answer=(rr(f"fd00-244--9.{P}", "AAAA", "fd00:244::9"),)),
    nodata(f"10-244-1-1.{P}", "AAAA"),
    # An extra label is ignored.
    Case(f"x.10-244-1-1.{P}", "A", answer=(rr(f"x.10-244-1-1.{P}", "A", "10.244.1.1"),)),
    # SRV on a pod name: port 0, the pod name as target.
    Case(
        f"10-244-1-1.{P}",
        "SRV",
        answer=(rr(f"10-244-1-1.{P}", "SRV", f"0 100 0 10-244-1-1.{P}"),),
        extra=(rr(f"10-244-1-1.{P}", "A", "10.244.1.1"),),
    ),
    # Not an address (either family), or a namespace that does not exist.
    nxdomain(f"not-an-ip.{P}"),
    nxdomain(f"1-2-3.{P}"),
    nxdomain("10-244-1-1.nope.pod.cluster.local."),
    nxdomain(f"1-2-3-4-5.{P}"),
    # "--" makes it IPv6: 10::244:1:1.
    nodata(f"10--244-1-1.{P}"),
    Case(f"10--244-1-1.{P}", "AAAA", answer=(rr(f"10--244-1-1.{P}", "AAAA", "10::244:1:1"),)),
    nodata(P),
    nodata("empty.pod.cluster.local."),
    nxdomain("nope.pod.cluster.local."),
]

POD_VERIFIED = [
    Case(f"10-244-1-1.{P}", "A", answer=(rr(f"10-244-1-1.{P}", "A", "10.244.1.1"),)),
    Case(f"fd00-244--9.{P}", "AAAA", answer=(rr(f"fd00-244--9.{P}", "AAAA", "fd00:244::9"),)),
    # A pod with that address must exist in that namespace.
    nxdomain(f"1-2-3-4.{P}"),
    nxdomain(f"10-244-9-9.{P}"),
    Case(
        "10-244-9-9.default.pod.cluster.local.",
        "A",
        answer=(rr("10-244-9-9.default.pod.cluster.local.", "A", "10.244.9.9"),),
    ),
    # A terminating pod is never added.
    nxdomain(f"10-244-8-8.{P}"),
    nodata(P),
]

POD_DISABLED = [
    nxdomain(f"10-244-1-1.{P}"),
    nxdomain(P),
    nodata("pod.cluster.local."),
]


@pytest.mark.parametrize(
    ("mode", "cases"),
    [("insecure", POD_INSECURE), ("verified", POD_VERIFIED), ("disabled", POD_DISABLED)],
)
def test_pods(mode: str, cases: list[Case]) -> None:
    run(k.build(pods=mode), cases)


def test_pods_verified_follow_pod_events() -> None:
    c = k.build(pods="verified")
    name = f"10-244-7-7.{P}"
    k.check(k.ask(c, name), nxdomain(name))
    pod = fa.pod("late", "testns", ip="10.244.7.7")
    c.apply(pod, at=k.T0 + 10)
    k.check(k.ask(c, name), Case(name, answer=(rr(name, "A", "10.244.7.7"),)))
    c.delete(pod, at=k.T0 + 20)
    k.check(k.ask(c, name), nxdomain(name, serial=k.T0 + 20))
    # The address moves to another namespace (IP reuse): the answer follows the live pod.
    c.apply(fa.pod("moved", "default", ip="10.244.7.7"), at=k.T0 + 30)
    k.check(k.ask(c, name), nxdomain(name, serial=k.T0 + 30))
    other = "10-244-7-7.default.pod.cluster.local."
    k.check(k.ask(c, other), Case(other, answer=(rr(other, "A", "10.244.7.7"),)))


# --- endpoint_pod_names ----------------------------------------------------------------------------


def test_endpoint_pod_names() -> None:
    hdls = f"hdls.{T}"
    names = ("db-0", "hdls-1", "hdls-3", "hdls-6", "hdls-7")
    extra = (
        ("db-0", "A", "10.244.2.1"),
        ("db-0", "A", "10.244.2.6"),
        ("hdls-1", "A", "10.244.2.2"),
        ("hdls-3", "A", "10.244.2.4"),
        ("hdls-6", "AAAA", "fd00:244::7"),
        ("hdls-7", "AAAA", "fd00:244::"),
    )
    rev = ipaddress.ip_address("10.244.2.2").reverse_pointer + "."
    rev_manual = ipaddress.ip_address("192.168.10.1").reverse_pointer + "."
    run(
        k.build(endpoint_pod_names=True),
        [
            Case(
                hdls,
                "SRV",
                answer=tuple(rr(hdls, "SRV", f"0 16 8080 {n}.{hdls}") for n in names),
                extra=tuple(rr(f"{n}.{hdls}", t, ip) for n, t, ip in extra),
            ),
            # A hostname still wins over the pod name.
            nxdomain(f"hdls-0.{hdls}"),
            Case(f"hdls-1.{hdls}", answer=(rr(f"hdls-1.{hdls}", "A", "10.244.2.2"),)),
            nxdomain(f"10-244-2-2.{hdls}"),
            Case(f"web-0.web.{T}", answer=(rr(f"web-0.web.{T}", "A", "10.244.1.1"),)),
            Case(rev, "PTR", answer=(rr(rev, "PTR", f"hdls-1.{hdls}"),)),
            # Without a targetRef, the dashed address remains.
            Case(rev_manual, "PTR", answer=(rr(rev_manual, "PTR", f"192-168-10-1.manual.{T}"),)),
        ],
    )


def test_endpoint_pod_names_skip_names_of_64_characters() -> None:
    long_name = "p" * 64
    objects = k.fixture_objects()
    objects["endpointslices"].append(
        fa.endpoint_slice(
            "long-1",
            "testns",
            service="long",
            endpoints=[
                fa.endpoint("10.244.6.1", pod=long_name),
                fa.endpoint("10.244.6.2", pod="p" * 63),
            ],
        )
    )
    objects["services"].append(fa.service("long", "testns", cluster_ips=["None"]))
    c = k.build(objects=objects, endpoint_pod_names=True)
    long = f"long.{T}"
    run(
        c,
        [
            Case(f"10-244-6-1.{long}", answer=(rr(f"10-244-6-1.{long}", "A", "10.244.6.1"),)),
            Case(f"{'p' * 63}.{long}", answer=(rr(f"{'p' * 63}.{long}", "A", "10.244.6.2"),)),
        ],
    )


# --- ttl ---------------------------------------------------------------------------------------


def test_ttl() -> None:
    web = f"web.{T}"
    run(
        k.build(ttl=3600),
        [
            Case(web, answer=(rr(web, "A", "10.96.0.20", 3600),)),
            # The SOA's own TTL is capped at 300; its minimum is the ttl.
            nxdomain(f"nope.{T}", ttl=3600),
            Case("cluster.local.", "SOA", answer=(k.soa(ttl=3600),)),
            # dns-version keeps its fixed TTL.
            Case(
                "dns-version.cluster.local.",
                "TXT",
                answer=(rr("dns-version.cluster.local.", "TXT", '"1.1.0"', 28800),),
            ),
            Case(
                "cluster.local.",
                "NS",
                answer=(
                    rr("cluster.local.", "NS", "kube-dns.kube-system.svc.cluster.local.", 3600),
                ),
                extra=(rr("kube-dns.kube-system.svc.cluster.local.", "A", "10.96.0.10", 3600),),
            ),
        ],
    )
    run(
        k.build(ttl=0),
        [Case(web, answer=(rr(web, "A", "10.96.0.20", 0),)), nxdomain(f"nope.{T}", ttl=0)],
    )


# --- ignore empty_service, noendpoints, namespaces ---------------------------------------------------


def test_ignore_empty_service() -> None:
    run(
        k.build(ignore_empty_service=True),
        [
            # ClusterIP services without a ready endpoint do not exist...
            nxdomain(f"lonely.{T}"),
            nxdomain(f"lonely.{T}", "SRV"),
            nxdomain(f"noports.{T}"),
            # ...those with one do; ExternalName and headless services are exempt.
            Case(f"web.{T}", answer=(rr(f"web.{T}", "A", "10.96.0.20"),)),
            Case(
                f"ext-in.{T}",
                answer=(rr(f"ext-in.{T}", "CNAME", f"web.{T}"), rr(f"web.{T}", "A", "10.96.0.20")),
            ),
            Case(
                f"manual.{T}",
                answer=(
                    rr(f"manual.{T}", "A", "192.168.10.1"),
                    rr(f"manual.{T}", "A", "192.168.10.2"),
                ),
            ),
            nxdomain(f"unready.{T}"),
        ],
    )


def test_noendpoints() -> None:
    rev = ipaddress.ip_address("10.244.1.1").reverse_pointer + "."
    run(
        k.build(noendpoints=True),
        [
            # ClusterIP services still answer; headless services, endpoint names and
            # endpoint PTRs do not exist.
            Case(f"web.{T}", answer=(rr(f"web.{T}", "A", "10.96.0.20"),)),
            nxdomain(f"hdls.{T}"),
            nxdomain(f"10-244-1-1.web.{T}"),
            Case(rev, "PTR", "NXDOMAIN", ns=(k.soa("in-addr.arpa."),)),
            # With no endpoints to find itself in, the NS is ns.dns with the local address.
            Case(
                "cluster.local.",
                "NS",
                answer=(rr("cluster.local.", "NS", "ns.dns.cluster.local."),),
                extra=(rr("ns.dns.cluster.local.", "A", k.LOCAL_ADDRESS),),
            ),
        ],
    )


def test_noendpoints_ignores_slices_even_if_cached() -> None:
    """The option, not only the missing watch, keeps endpoints out of every answer."""
    c = k.build(noendpoints=True)
    for raw in k.fixture_objects()["endpointslices"]:
        c.apply(raw)
    run(
        c,
        [
            nxdomain(f"hdls.{T}"),
            nxdomain(f"10-244-1-1.web.{T}"),
            Case(
                "cluster.local.",
                "NS",
                answer=(rr("cluster.local.", "NS", "ns.dns.cluster.local."),),
                extra=(rr("ns.dns.cluster.local.", "A", k.LOCAL_ADDRESS),),
            ),
        ],
    )


def test_namespaces() -> None:
    run(
        k.build(namespaces=["testns"]),
        [
            Case(f"web.{T}", answer=(rr(f"web.{T}", "A", "10.96.0.20"),)),
            nodata(T),
            nxdomain("kubernetes.default.svc.cluster.local."),
            nxdomain("default.svc.cluster.local."),
            nxdomain("empty.svc.cluster.local."),
            # An ExternalName service in an unexposed namespace.
            nxdomain("ext-api.default.svc.cluster.local."),
        ],
    )


def test_namespaces_hide_pods_but_keep_them_for_other_namespaces() -> None:
    c = k.build(namespaces=["testns"], pods="verified")
    run(
        c,
        [
            Case(f"10-244-1-1.{P}", answer=(rr(f"10-244-1-1.{P}", "A", "10.244.1.1"),)),
            nxdomain("10-244-9-9.default.pod.cluster.local."),
        ],
    )
    # Pods of unexposed namespaces are still cached (autopath needs them).
    assert c.store.pods_by_ip("10.244.9.9")


# --- the apex NS from kdns's own addresses -------------------------------------------------------


def test_ns_without_local_addresses_is_nodata() -> None:
    """A server bound only to loopback has no NS records (nor ns.dns addresses)."""
    run(
        k.build(local_addresses=()),
        [nodata("cluster.local.", "NS"), nodata("ns.dns.cluster.local.", "A")],
    )


def test_ns_falls_back_to_ns_dns_with_every_local_address() -> None:
    run(
        k.build(local_addresses=("192.0.2.53", "2001:db8::53")),
        [
            Case(
                "cluster.local.",
                "NS",
                answer=(rr("cluster.local.", "NS", "ns.dns.cluster.local."),),
                extra=(
                    rr("ns.dns.cluster.local.", "A", "192.0.2.53"),
                    rr("ns.dns.cluster.local.", "AAAA", "2001:db8::53"),
                ),
            ),
            Case(
                "ns.dns.cluster.local.",
                "AAAA",
                answer=(rr("ns.dns.cluster.local.", "AAAA", "2001:db8::53"),),
            ),
        ],
    )


def test_ns_of_a_headless_dns_service_names_the_endpoint() -> None:
    objects = k.fixture_objects()
    objects["services"].append(fa.service("dns-hl", "kube-system", cluster_ips=["None"]))
    objects["endpointslices"].append(
        fa.endpoint_slice(
            "dns-hl-1",
            "kube-system",
            service="dns-hl",
            endpoints=[fa.endpoint("10.244.0.54", hostname="dns-a"), fa.endpoint("10.244.0.55")],
        )
    )
    base = "dns-hl.kube-system.svc.cluster.local."
    run(
        k.build(objects=objects, local_addresses=("10.244.0.54", "10.244.0.55")),
        [
            Case(
                "cluster.local.",
                "NS",
                answer=(
                    rr("cluster.local.", "NS", f"dns-a.{base}"),
                    rr("cluster.local.", "NS", f"10-244-0-55.{base}"),
                ),
                extra=(
                    rr(f"dns-a.{base}", "A", "10.244.0.54"),
                    rr(f"10-244-0-55.{base}", "A", "10.244.0.55"),
                ),
            )
        ],
    )


def test_ns_ignores_a_not_ready_own_endpoint() -> None:
    objects = k.fixture_objects()
    for raw in objects["endpointslices"]:
        if raw["metadata"]["name"] == "kube-dns-abcde":
            raw["endpoints"][0]["conditions"]["ready"] = False
    run(
        k.build(objects=objects),
        [
            Case(
                "cluster.local.",
                "NS",
                answer=(rr("cluster.local.", "NS", "ns.dns.cluster.local."),),
                extra=(rr("ns.dns.cluster.local.", "A", k.LOCAL_ADDRESS),),
            )
        ],
    )

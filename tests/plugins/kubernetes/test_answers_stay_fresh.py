"""Pre-rendered answers: a store change drops exactly the answers built from what changed, and
a newer SOA serial is patched into the negative answers that stay."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable

import pytest

from kdns.plugins.kubernetes import answers, handler
from tests.plugins.kubernetes.test_cluster_names_answer_like_coredns import CASES
from tests.plugins.kubernetes.test_reverse_names_answer_ptr import CASES as PTR_CASES
from tests.support import apiserver as fa
from tests.support import cluster as k
from tests.support.cluster import Case, nxdomain

T = "testns.svc.cluster.local."


def rev(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


def rr(owner: str, rtype: str, rdata: str, ttl: int = 5) -> str:
    return f"{owner} {ttl} IN {rtype} {rdata}"


def slice_named(name: str) -> fa.Obj:
    for raw in k.fixture_objects()["endpointslices"]:
        if raw["metadata"]["name"] == name:
            return raw
    raise KeyError(name)


def service_named(name: str) -> fa.Obj:
    for raw in k.fixture_objects()["services"]:
        if raw["metadata"]["name"] == name:
            return raw
    raise KeyError(name)


# --- single changes ------------------------------------------------------------------------------


def test_a_new_service_replaces_a_cached_nxdomain() -> None:
    c = k.build()
    name = f"late.{T}"
    k.check(k.ask(c, name), nxdomain(name))
    k.check(
        k.ask(c, rev("10.96.0.77"), "PTR"),
        Case(rev("10.96.0.77"), "PTR", "NXDOMAIN", ns=(k.soa("in-addr.arpa."),)),
    )
    c.apply(fa.service("late", "testns", cluster_ips=["10.96.0.77"]), at=k.T0 + 1)
    k.check(k.ask(c, name), Case(name, answer=(rr(name, "A", "10.96.0.77"),)))
    assert k.ask(c, rev("10.96.0.77"), "PTR").answer == [rr(rev("10.96.0.77"), "PTR", name)]


def test_a_changed_cluster_ip_moves_the_a_and_the_ptr() -> None:
    c = k.build()
    web = f"web.{T}"
    k.ask(c, web)
    k.ask(c, rev("10.96.0.20"), "PTR")
    k.ask(c, rev("10.96.0.23"), "PTR")
    moved = service_named("web")
    moved["spec"]["clusterIP"] = "10.96.0.23"
    moved["spec"]["clusterIPs"] = ["10.96.0.23"]
    c.apply(moved, at=k.T0 + 1)
    assert k.ask(c, web).answer == [rr(web, "A", "10.96.0.23")]
    assert k.ask(c, rev("10.96.0.23"), "PTR").answer == [rr(rev("10.96.0.23"), "PTR", web)]
    assert k.ask(c, rev("10.96.0.20"), "PTR").rcode == "NXDOMAIN"


def test_a_deleted_service_is_gone() -> None:
    c = k.build()
    for name, qtype in ((f"web.{T}", "A"), (f"web.{T}", "SRV"), (f"10-244-1-2.web.{T}", "A")):
        assert k.ask(c, name, qtype).rcode == "NOERROR"
    c.delete(service_named("web"), at=k.T0 + 1)
    for name, qtype in ((f"web.{T}", "A"), (f"web.{T}", "SRV"), (f"10-244-1-2.web.{T}", "A")):
        k.check(k.ask(c, name, qtype), nxdomain(name, qtype, serial=k.T0 + 1))
    # The ClusterIP's PTR goes; the endpoint PTR stays (the slice still exists).
    assert k.ask(c, rev("10.96.0.20"), "PTR").rcode == "NXDOMAIN"
    assert k.ask(c, rev("10.244.1.2"), "PTR").rcode == "NOERROR"


def test_endpoint_readiness_changes_headless_answers() -> None:
    c = k.build()
    hdls = f"hdls.{T}"
    before = k.ask(c, hdls).answer
    assert rr(hdls, "A", "10.244.2.1") in before
    changed = slice_named("hdls-a")
    changed["endpoints"][0]["conditions"]["ready"] = False  # 10.244.2.1 (db-0)
    changed["endpoints"][2]["conditions"]["ready"] = True  # 10.244.2.3
    c.apply(changed, at=k.T0 + 1)
    after = k.ask(c, hdls).answer
    assert rr(hdls, "A", "10.244.2.1") not in after
    assert rr(hdls, "A", "10.244.2.3") in after
    assert k.ask(c, f"db-0.{hdls}").answer == [rr(f"db-0.{hdls}", "A", "10.244.2.6")]
    assert k.ask(c, rev("10.244.2.1"), "PTR").rcode == "NXDOMAIN"
    assert k.ask(c, rev("10.244.2.3"), "PTR").answer == [
        rr(rev("10.244.2.3"), "PTR", f"10-244-2-3.{hdls}")
    ]


def test_the_last_ready_endpoint_going_makes_headless_nxdomain() -> None:
    c = k.build()
    pnr = f"pnr.{T}"
    assert k.ask(c, pnr).rcode == "NOERROR"
    c.delete(slice_named("pnr-1"), at=k.T0 + 1)
    k.check(k.ask(c, pnr), nxdomain(pnr, serial=k.T0 + 1))


def test_a_relabelled_slice_moves_its_endpoints() -> None:
    c = k.build()
    assert k.ask(c, f"10-244-1-2.web.{T}").rcode == "NOERROR"
    assert k.ask(c, f"10-244-1-2.other.{T}").rcode == "NXDOMAIN"
    moved = slice_named("web-abcde")
    moved["metadata"]["labels"]["kubernetes.io/service-name"] = "other"
    c.apply(moved, at=k.T0 + 1)
    assert k.ask(c, f"10-244-1-2.web.{T}").rcode == "NXDOMAIN"
    assert k.ask(c, f"10-244-1-2.other.{T}").rcode == "NOERROR"


def test_namespace_events_change_every_answer_under_it() -> None:
    c = k.build()
    queries = [(f"web.{T}", "A"), (T, "A"), (rev("10.96.0.20"), "PTR"), (rev("10.244.1.2"), "PTR")]
    assert [k.ask(c, n, t).rcode for n, t in queries] == ["NOERROR"] * 4
    c.delete(fa.namespace("testns"), at=k.T0 + 1)
    assert [k.ask(c, n, t).rcode for n, t in queries] == ["NXDOMAIN"] * 4
    c.apply(fa.namespace("testns"), at=k.T0 + 2)
    assert [k.ask(c, n, t).rcode for n, t in queries] == ["NOERROR"] * 4


def test_own_address_appearing_in_a_slice_changes_the_ns() -> None:
    c = k.build(local_addresses=("10.244.0.60",))
    assert k.ask(c, "cluster.local.", "NS").answer == [
        rr("cluster.local.", "NS", "ns.dns.cluster.local.")
    ]
    c.apply(
        fa.endpoint_slice(
            "kube-dns-fghij",
            "kube-system",
            service="kube-dns",
            endpoints=[fa.endpoint("10.244.0.60")],
        ),
        at=k.T0 + 1,
    )
    assert k.ask(c, "cluster.local.", "NS").answer == [
        rr("cluster.local.", "NS", "kube-dns.kube-system.svc.cluster.local.")
    ]


# --- precise invalidation ---------------------------------------------------------------------------

UNRELATED = [
    (f"web.{T}", "A"),
    (f"web.{T}", "SRV"),
    (f"hdls.{T}", "A"),
    (f"nope.{T}", "A"),
    ("cluster.local.", "SOA"),
    ("cluster.local.", "NS"),
    (rev("10.96.0.20"), "PTR"),
    ("kubernetes.default.svc.cluster.local.", "A"),
]
OF_DUAL = [
    (f"dual.{T}", "A"),
    (f"dual.{T}", "AAAA"),
    (f"dual.{T}", "SRV"),
    (f"10-244-5-1.dual.{T}", "A"),
    (rev("10.96.0.30"), "PTR"),
    (rev("fd00:10:96::30"), "PTR"),
    (rev("10.244.5.1"), "PTR"),
]


def _prime(c: k.Cluster, queries: list[tuple[str, str]]) -> dict[tuple[str, str], answers.Entry]:
    entries = {}
    for name, qtype in queries:
        k.ask(c, name, qtype, proto="tcp")
        entry = c.answers.get(k.request(name, qtype).key)
        assert entry is not None, (name, qtype)
        entries[(name, qtype)] = entry
    return entries


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda raw: raw["spec"]["ports"].append({"name": "x", "port": 81, "protocol": "TCP"}),
            id="service",
        ),
        pytest.param(None, id="slice"),
    ],
)
def test_a_change_drops_only_the_answers_built_from_it(
    change: Callable[[fa.Obj], None] | None,
) -> None:
    c = k.build()
    kept = _prime(c, UNRELATED)
    _prime(c, OF_DUAL)
    assert len(c.answers) == len(UNRELATED) + len(OF_DUAL)
    if change is None:
        raw = slice_named("dual-v4")
        raw["endpoints"].append(fa.endpoint("10.244.5.2"))
    else:
        raw = service_named("dual")
        change(raw)
    c.apply(raw, at=k.T0 + 1)
    assert len(c.answers) == len(UNRELATED)
    for query, entry in kept.items():
        assert c.answers.get(k.request(*query).key) is entry, query
    for query in OF_DUAL:
        assert c.answers.get(k.request(*query).key) is None, query


def test_a_change_that_dns_does_not_see_drops_nothing() -> None:
    c = k.build()
    kept = _prime(c, UNRELATED + OF_DUAL)
    raw = service_named("dual")
    raw["metadata"]["annotations"] = {"note": "irrelevant"}
    raw["spec"]["sessionAffinity"] = "ClientIP"
    c.apply(raw, at=k.T0 + 1)
    assert c.store.serial == k.T0
    for query, entry in kept.items():
        assert c.answers.get(k.request(*query).key) is entry


def test_serial_is_patched_into_cached_negative_answers() -> None:
    c = k.build()
    queries = [
        (f"nope.{T}", "A"),
        (f"web.{T}", "AAAA"),
        ("cluster.local.", "SOA"),
        (rev("192.0.2.1"), "PTR"),
    ]
    kept = _prime(c, queries)
    c.apply(fa.service("late", "default", cluster_ips=["10.96.0.78"]), at=k.T0 + 100)
    for name, qtype in queries:
        reply = k.ask(c, name, qtype, proto="tcp")
        soa = (reply.authority or reply.answer)[0]
        assert f" {k.T0 + 100} 7200 1800 86400 " in soa, (name, soa)
        # Same entry, patched in place: nothing was re-rendered.
        assert c.answers.get(k.request(name, qtype).key) is kept[(name, qtype)]
    assert k.ask(c, rev("192.0.2.1"), "PTR").authority == [
        k.soa("in-addr.arpa.", serial=k.T0 + 100)
    ]


# --- every answer after every change equals a freshly synthesized one ------------------------------

QUERIES = sorted({(c.qname, c.qtype) for c in CASES + PTR_CASES if c.qtype not in ("AXFR",)})


def _mutations() -> list[tuple[str, Callable[[k.Cluster], None]]]:
    def update(kind: str, name: str, edit: Callable[[fa.Obj], None]) -> Callable[[k.Cluster], None]:
        def apply(c: k.Cluster) -> None:
            raw = copy.deepcopy((service_named if kind == "svc" else slice_named)(name))
            edit(raw)
            c.apply(raw)

        return apply

    def set_ips(*ips: str) -> Callable[[fa.Obj], None]:
        def edit(raw: fa.Obj) -> None:
            raw["spec"]["clusterIP"], raw["spec"]["clusterIPs"] = ips[0], list(ips)

        return edit

    def unready(index: int) -> Callable[[fa.Obj], None]:
        def edit(raw: fa.Obj) -> None:
            raw["endpoints"][index]["conditions"]["ready"] = False

        return edit

    def drop_ports(raw: fa.Obj) -> None:
        raw["spec"]["ports"] = []

    def retarget(raw: fa.Obj) -> None:
        raw["spec"]["externalName"] = "dual.testns.svc.cluster.local"

    return [
        ("web clusterIP", update("svc", "web", set_ips("10.96.0.24"))),
        ("web ports", update("svc", "web", drop_ports)),
        ("web-0 not ready", update("slice", "web-abcde", unready(0))),
        ("dual single-stack", update("svc", "dual", set_ips("fd00:10:96::31"))),
        ("db-0 not ready", update("slice", "hdls-a", unready(0))),
        ("hdls-b gone", lambda c: c.delete(slice_named("hdls-b"))),
        ("hdls-v6 gone", lambda c: c.delete(slice_named("hdls-v6"))),
        ("ext-in retargeted", update("svc", "ext-in", retarget)),
        ("web gone", lambda c: c.delete(service_named("web"))),
        ("kube-dns endpoint gone", lambda c: c.delete(slice_named("kube-dns-abcde"))),
        ("ghost appears", lambda c: c.apply(fa.namespace("ghost"))),
        ("testns gone", lambda c: c.delete(fa.namespace("testns"))),
        ("testns back", lambda c: c.apply(fa.namespace("testns"))),
        ("manual gone", lambda c: c.delete(slice_named("manual-1"))),
        ("web back", lambda c: c.apply(service_named("web"))),
    ]


def test_every_cached_answer_matches_a_fresh_one_after_each_change() -> None:
    c = k.build(pods="insecure")
    for name, qtype in QUERIES:
        k.ask(c, name, qtype, proto="tcp")
    for step, (label, mutate) in enumerate(_mutations(), start=1):
        c.clock.now = k.T0 + step
        mutate(c)
        fresh = handler.Kubernetes(c.next, synthesizer=c.synth, fall=c.handler.fall)
        try:
            for name, qtype in QUERIES:
                cached = k.ask(c, name, qtype, proto="tcp")
                req = k.request(name, qtype, proto="tcp")
                req.table = c.table
                expected = k.parse(req, fresh.serve(req))  # type: ignore[arg-type]
                assert cached.wire[2:] == expected.wire[2:], f"after {label!r}: {name} {qtype}"
        finally:
            fresh.close()

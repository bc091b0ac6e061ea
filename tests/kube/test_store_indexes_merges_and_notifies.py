"""The store's indexes, merging rules, change records and serial, without any API server."""

from __future__ import annotations

import pytest

from kdns.kube import objects, store
from tests.support import apiserver as fake


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> store.Store:
    return store.Store(clock=clock)


@pytest.fixture
def changes(cache: store.Store) -> list[store.Change]:
    seen: list[store.Change] = []
    cache.subscribe(seen.append)
    return seen


def put(cache: store.Store, raw: dict) -> None:
    plural = {"Service": "services", "EndpointSlice": "endpointslices", "Pod": "pods"}.get(
        raw["kind"], "namespaces"
    )
    cache.sink(store.as_kind(plural)).upsert(raw)


def remove(cache: store.Store, raw: dict) -> None:
    plural = {"Service": "services", "EndpointSlice": "endpointslices", "Pod": "pods"}.get(
        raw["kind"], "namespaces"
    )
    cache.sink(store.as_kind(plural)).delete(raw)


def test_slices_of_a_service_are_merged_and_addresses_deduplicated(cache):
    put(
        cache,
        fake.endpoint_slice(
            "web-a",
            service="web",
            endpoints=[
                fake.endpoint("10.1.0.1", hostname="h1"),
                fake.endpoint("10.1.0.2", ready=False),
            ],
        ),
    )
    put(
        cache,
        fake.endpoint_slice(
            "web-b",
            service="web",
            endpoints=[
                fake.endpoint("10.1.0.1", hostname="dup"),  # the same address in a second slice
                fake.endpoint(
                    "10.1.0.2", ready=True
                ),  # moved here and now ready: the ready copy wins
                fake.endpoint("10.1.0.3", ready=None),
            ],
        ),
    )
    put(
        cache,
        fake.endpoint_slice(
            "web-v6", service="web", address_type="IPv6", endpoints=[fake.endpoint("fd00::1")]
        ),
    )

    (subset,) = cache.endpoints("default", "web")
    assert subset.ports == (objects.Port("http", "TCP", 80),)
    assert [(a.address, a.ready, a.hostname, a.address_type) for a in subset.addresses] == [
        ("10.1.0.1", True, "h1", "IPv4"),
        ("10.1.0.2", True, "", "IPv4"),
        ("10.1.0.3", True, "", "IPv4"),
        ("fd00::1", True, "", "IPv6"),
    ]


def test_slices_with_different_ports_form_separate_subsets(cache):
    put(
        cache,
        fake.endpoint_slice(
            "s-1",
            service="s",
            endpoints=[fake.endpoint("10.0.0.1")],
            ports=[{"name": "a", "port": 1}],
        ),
    )
    put(
        cache,
        fake.endpoint_slice(
            "s-2",
            service="s",
            endpoints=[fake.endpoint("10.0.0.1")],
            ports=[{"name": "b", "port": 2}],
        ),
    )
    subsets = cache.endpoints("default", "s")
    assert [s.ports[0].port for s in subsets] == [1, 2]


def test_a_slice_moving_to_another_service_notifies_both(cache, changes):
    put(cache, fake.endpoint_slice("x", service="old", endpoints=[fake.endpoint("10.0.0.9")]))
    changes.clear()
    put(cache, fake.endpoint_slice("x", service="new", endpoints=[fake.endpoint("10.0.0.9")]))
    assert changes == [("service", "default", "old"), ("service", "default", "new")]
    assert cache.endpoints("default", "old") == ()
    assert cache.endpoint_slices("default", "new")[0].name == "x"
    ((eps, endpoint),) = cache.endpoints_by_ip("10.0.0.9")
    assert (eps.service, endpoint.addresses) == ("new", ("10.0.0.9",))


def test_unlabelled_slices_are_not_kept(cache):
    put(cache, fake.endpoint_slice("orphan", service=None, endpoints=[fake.endpoint("10.0.0.7")]))
    assert cache.endpoints_by_ip("10.0.0.7") == ()
    assert cache.counts()["endpointslices"] == 0


def test_services_are_indexed_by_every_cluster_ip(cache):
    put(cache, fake.service("dual", cluster_ips=["10.0.0.1", "fd00::1"]))
    put(cache, fake.service("headless", cluster_ips=["None"]))
    assert [s.name for s in cache.services_by_ip("fd00::1")] == ["dual"]
    assert cache.services_by_ip("None") == ()
    put(cache, fake.service("dual", cluster_ips=["10.0.0.2"]))
    assert cache.services_by_ip("10.0.0.1") == ()
    assert [s.name for s in cache.services_by_ip("10.0.0.2")] == ["dual"]


@pytest.mark.parametrize("order", ["delete-then-add", "add-then-delete"])
def test_pod_ip_reused_across_namespaces_follows_the_live_pod(cache, changes, order):
    old = fake.pod("old", "a", ip="10.244.0.9")
    new = fake.pod("new", "b", ip="10.244.0.9")
    put(cache, old)
    changes.clear()
    if order == "delete-then-add":
        remove(cache, old)
        put(cache, new)
    else:
        put(cache, new)
        assert {p.namespace for p in cache.pods_by_ip("10.244.0.9")} == {"a", "b"}
        remove(cache, old)
    assert [(p.namespace, p.name) for p in cache.pods_by_ip("10.244.0.9")] == [("b", "new")]
    assert sorted(changes) == [("pod", "a", "10.244.0.9"), ("pod", "b", "10.244.0.9")]


def test_terminating_pods_are_never_added_but_cached_ones_stay_until_deleted(cache):
    put(cache, fake.pod("gone", ip="10.244.0.1", deleting=True))
    assert cache.pods_by_ip("10.244.0.1") == ()

    put(cache, fake.pod("live", ip="10.244.0.2"))
    put(cache, fake.pod("live", ip="10.244.0.2", deleting=True))
    assert [p.name for p in cache.pods_by_ip("10.244.0.2")] == ["live"]
    assert not cache.pods_by_ip("10.244.0.2")[0].deleting
    remove(cache, fake.pod("live", ip="10.244.0.2", deleting=True))
    assert cache.pods_by_ip("10.244.0.2") == ()


def test_a_pod_changing_ip_moves_in_the_index(cache, changes):
    put(cache, fake.pod("p", ip=None))
    assert changes == []
    put(cache, fake.pod("p", ip="10.244.3.3"))
    put(cache, fake.pod("p", ip="10.244.3.4"))
    assert cache.pods_by_ip("10.244.3.3") == ()
    assert changes == [
        ("pod", "default", "10.244.3.3"),
        ("pod", "default", "10.244.3.3"),
        ("pod", "default", "10.244.3.4"),
    ]


def test_serial_moves_only_on_dns_relevant_changes(cache, clock):
    start = cache.serial
    assert start == int(clock.now)

    clock.now += 10
    svc = fake.service("web", cluster_ips=["10.0.0.1"])
    put(cache, svc)
    assert cache.serial == start + 10

    clock.now += 10
    svc["metadata"]["resourceVersion"] = "999"
    svc["metadata"]["annotations"] = {"touched": "yes"}
    svc["spec"]["selector"] = {"app": "changed"}
    put(cache, svc)  # nothing DNS answers with changed
    assert cache.serial == start + 10

    put(cache, fake.service("web", cluster_ips=["10.0.0.2"]))
    assert cache.serial == start + 20

    clock.now += 10
    pod = fake.pod("p", ip="10.244.0.1")
    put(cache, pod)
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    clock.now += 10
    put(cache, pod)
    assert cache.serial == start + 30

    clock.now += 10
    remove(cache, fake.service("web"))
    assert cache.serial == start + 50


def test_namespaces_option_drops_other_namespaces_but_keeps_all_pods(clock):
    cache = store.Store(namespaces=["prod"], clock=clock)
    for ns in ("prod", "dev"):
        put(cache, fake.namespace(ns))
        put(cache, fake.service("web", ns, cluster_ips=[f"10.0.{len(ns)}.1"]))
        put(
            cache,
            fake.endpoint_slice("web-1", ns, service="web", endpoints=[fake.endpoint("10.9.9.9")]),
        )
        put(cache, fake.pod("p", ns, ip=f"10.244.{len(ns)}.1"))
    assert cache.namespace_exists("prod") and not cache.namespace_exists("dev")
    assert cache.service("dev", "web") is None and cache.service("prod", "web") is not None
    assert [e.namespace for e, _ in cache.endpoints_by_ip("10.9.9.9")] == ["prod"]
    # autopath needs to know which namespace a client pod lives in, exposed or not
    assert cache.pods_by_ip("10.244.3.1")[0].namespace == "dev"


def test_reconcile_deletes_exactly_what_the_list_lacked(cache, changes):
    sink = cache.sink("services")
    for name in ("a", "b", "c"):
        sink.upsert(fake.service(name, cluster_ips=["None"]))
    changes.clear()
    sink.upsert(fake.service("b", cluster_ips=["None"]))  # unchanged: no record
    unseen = sink.keys()
    unseen.discard(("default", "b"))
    sink.remove_keys(unseen)
    assert sorted(changes) == [("service", "default", "a"), ("service", "default", "c")]
    assert [s.name for s in cache.services()] == ["b"]


def test_has_synced_needs_every_watched_kind_and_stays_true(clock):
    cache = store.Store(watched=["services", "namespaces"], clock=clock)
    cache.sink("services").mark_synced()
    assert cache.synced("services") and not cache.has_synced()
    cache.sink("namespaces").mark_synced()
    assert cache.has_synced()
    cache.sink("namespaces").remove_keys(cache.sink("namespaces").keys())
    assert cache.has_synced()


def test_a_failing_subscriber_does_not_stop_the_others(cache):
    got = []

    def broken(change):
        raise RuntimeError("boom")

    cache.subscribe(broken)
    unsubscribe = cache.subscribe(got.append)
    put(cache, fake.namespace("x"))
    unsubscribe()
    put(cache, fake.namespace("y"))
    assert got == [("namespace", "x")]

"""coredns_kubernetes_dns_programming_duration_seconds: trigger-time stamp to applied slice."""

from __future__ import annotations

from typing import Any

from kdns.kube import objects, store
from kdns.plugins.kubernetes import programming
from tests.support import apiserver as fa

NOW = 1_700_000_000.5
STAMP = "2023-11-14T22:13:20Z"  # NOW - 0.5 s


def stamped(name: str, service: str) -> dict[str, Any]:
    eps = fa.endpoint_slice(name, "default", service=service, endpoints=[fa.endpoint("10.0.0.1")])
    eps["metadata"].setdefault("annotations", {})[objects.TRIGGER_TIME_ANNOTATION] = STAMP
    return eps


def test_headless_slices_are_measured_cluster_ip_ones_not() -> None:
    cache = store.Store()
    cache.on_trigger_time = programming.recorder(cache, clock=lambda: NOW)
    before = dict(programming.DURATION.histograms)
    cache.sink("services").upsert(fa.service("db", "default", cluster_ips=["None"]))
    cache.sink("services").upsert(fa.service("web", "default", cluster_ips=["10.96.0.5"]))
    cache.sink("endpointslices").upsert(stamped("db-1", "db"))
    cache.sink("endpointslices").upsert(stamped("web-1", "web"))
    hist = programming.DURATION.histograms[("headless_with_selector",)]
    old = before.get(("headless_with_selector",))
    old_count = sum(old.counts) if old is not None else 0
    assert sum(hist.counts) == old_count + 1
    # 0.5 s lands in the (0.256, 0.512] bucket.
    assert hist.counts[programming.BUCKETS.index(0.512)] >= 1
    assert set(programming.DURATION.histograms) == {("headless_with_selector",)}


def test_unstamped_slices_are_not_measured() -> None:
    cache = store.Store()
    seen: list[tuple[str, str, float]] = []
    cache.on_trigger_time = lambda ns, svc, t: seen.append((ns, svc, t))
    cache.sink("endpointslices").upsert(
        fa.endpoint_slice("db-1", "default", service="db", endpoints=[fa.endpoint("10.0.0.1")])
    )
    assert seen == []

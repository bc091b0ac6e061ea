"""``coredns_kubernetes_dns_programming_duration_seconds``: from an endpoint change to kdns.

The EndpointSlice controller stamps each slice with the time of the change that triggered it
(``endpoints.kubernetes.io/last-change-trigger-time``); the latency is measured from that stamp
to the moment kdns applied the slice, for headless services only, as CoreDNS does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kdns import metrics
from kdns.kube import store

#: CoreDNS's buckets: prometheus.ExponentialBuckets(0.001, 2, 20).
BUCKETS = tuple(0.001 * 2**i for i in range(20))

DURATION = metrics.family(
    "coredns_kubernetes_dns_programming_duration_seconds",
    "Histogram of the time (in seconds) it took to program a dns instance.",
    ("service_kind",),
    kind="histogram",
    bounds=BUCKETS,
)


def recorder(
    cache: store.Store, clock: Callable[[], float] = time.time
) -> Callable[[str, str, float], None]:
    def record(namespace: str, service: str, trigger: float) -> None:
        svc = cache.service(namespace, service)
        if svc is not None and svc.headless:
            DURATION.observe(("headless_with_selector",), max(0.0, clock() - trigger))

    return record

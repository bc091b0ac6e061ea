"""Counters behind CoreDNS's ``coredns_forward_*`` metrics, for the prometheus plugin (issue 5).

The per-upstream counters (requests by rcode with their duration, health-check failures,
connection reuse) live with the proxies in `kdns.pkg.upstream.metrics`, as CoreDNS keeps them in
``plugin/pkg/proxy``.

| counter here | CoreDNS metric |
|---|---|
| ``healthcheck_broken`` | ``coredns_forward_healthcheck_broken_total`` |
| ``max_concurrent_rejects`` | ``coredns_forward_max_concurrent_rejects_total`` |

kdns adds two of its own for the socket caps of `kdns.pkg.upstream.limits`:
``kdns_forward_sockets{to, proto}`` (a gauge: UDP queries in flight, TCP and TLS connections open)
and ``kdns_forward_socket_failures_total{reason}`` (attempts that got no socket: ``busy`` at the
caps, ``descriptors`` when the process ran out).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ForwardMetrics:
    #: Queries that found every upstream marked down.
    healthcheck_broken: int = 0
    #: Queries answered REFUSED because ``max_concurrent`` queries were already in flight.
    max_concurrent_rejects: int = 0


#: Process-wide, like CoreDNS's registry, so counts survive a reload of the Corefile.
METRICS = ForwardMetrics()
_exported = False


def export() -> None:
    """Publish the forward and proxy counters under CoreDNS's names (once per process)."""
    from kdns import metrics
    from kdns.pkg.upstream import metrics as proxy

    global _exported
    if _exported:
        return
    _exported = True
    duration = metrics.family(
        "coredns_proxy_request_duration_seconds",
        "Histogram of the time each request took.",
        ("proxy_name", "to", "rcode"),
        kind="histogram",
        bounds=metrics.TIME_BUCKETS,
    )
    failures = metrics.family(
        "coredns_proxy_healthcheck_failures_total",
        "Counter of the number of failed healthchecks.",
        ("proxy_name", "to"),
    )
    hits = metrics.family(
        "coredns_proxy_conn_cache_hits_total",
        "Counter of connection cache hits per upstream and protocol.",
        ("proxy_name", "to", "proto"),
    )
    misses = metrics.family(
        "coredns_proxy_conn_cache_misses_total",
        "Counter of connection cache misses per upstream and protocol.",
        ("proxy_name", "to", "proto"),
    )
    broken = metrics.family(
        "coredns_forward_healthcheck_broken_total",
        "Counter of the number of complete failures of the healthchecks.",
        (),
    )
    rejects = metrics.family(
        "coredns_forward_max_concurrent_rejects_total",
        "Counter of the number of queries rejected because the concurrent queries were at maximum.",
        (),
    )
    sockets = metrics.family(
        "kdns_forward_sockets",
        "Sockets to upstreams open now: UDP queries in flight, TCP and TLS connections.",
        ("to", "proto"),
        kind="gauge",
    )
    socket_failures = metrics.family(
        "kdns_forward_socket_failures_total",
        "Upstream attempts that got no socket: busy (kdns's caps) or descriptors (none left).",
        ("reason",),
    )
    proxy.METRICS.observers.append(
        lambda name, to, rcode, seconds: duration.observe((name, to, rcode), seconds)
    )

    def refresh() -> None:
        for upstream, value in proxy.METRICS.healthcheck_failures.items():
            failures.set(upstream, value)
        for connection, value in proxy.METRICS.conn_cache_hits.items():
            hits.set(connection, value)
        for connection, value in proxy.METRICS.conn_cache_misses.items():
            misses.set(connection, value)
        for (addr, proto), value in list(proxy.METRICS.sockets.items()):
            sockets.set((str(addr), proto), value)
        for reason, value in proxy.METRICS.socket_failures.items():
            socket_failures.set((reason,), value)
        broken.set((), METRICS.healthcheck_broken)
        rejects.set((), METRICS.max_concurrent_rejects)

    metrics.on_collect(refresh)

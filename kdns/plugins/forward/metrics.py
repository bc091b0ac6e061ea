"""Counters behind CoreDNS's ``coredns_forward_*`` metrics, for the prometheus plugin (issue 5).

The per-upstream counters (requests by rcode with their duration, health-check failures,
connection reuse) live with the proxies in `kdns.pkg.upstream.metrics`, as CoreDNS keeps them in
``plugin/pkg/proxy``.

| counter here | CoreDNS metric |
|---|---|
| ``healthcheck_broken`` | ``coredns_forward_healthcheck_broken_total`` |
| ``max_concurrent_rejects`` | ``coredns_forward_max_concurrent_rejects_total`` |
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

"""Counters behind CoreDNS's ``coredns_proxy_*`` metrics, kept here until the prometheus plugin
(issue 5) exports them; it reads `METRICS` and may subscribe to `ProxyMetrics.observers` for the
request-duration histogram.

| counter here | CoreDNS metric |
|---|---|
| ``requests[(proxy_name, to, rcode)]`` and ``request_seconds`` | ``coredns_proxy_request_duration_seconds{proxy_name,to,rcode}`` |
| ``healthcheck_failures[(proxy_name, to)]`` | ``coredns_proxy_healthcheck_failures_total{proxy_name,to}`` |
| ``conn_cache_hits`` / ``conn_cache_misses[(proxy_name, to, proto)]`` | ``coredns_proxy_conn_cache_{hits,misses}_total`` |
| ``sockets[(address, proto)]`` | ``kdns_forward_sockets{to,proto}`` (kdns's own gauge) |
| ``socket_failures[reason]`` | ``kdns_forward_socket_failures_total{reason}`` (kdns's own) |
"""

from __future__ import annotations

import collections
from collections.abc import Callable

#: Called with (proxy_name, to, rcode name, seconds) after every upstream reply.
Observer = Callable[[str, str, str, float], None]


class ProxyMetrics:
    """Process-wide, like CoreDNS's registry, so counts survive a reload of the Corefile."""

    def __init__(self) -> None:
        self.requests: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.request_seconds: dict[tuple[str, str, str], float] = collections.defaultdict(float)
        self.healthcheck_failures: collections.Counter[tuple[str, str]] = collections.Counter()
        self.conn_cache_hits: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.conn_cache_misses: collections.Counter[tuple[str, str, str]] = collections.Counter()
        #: Upstream sockets open now, by (`endpoint.Address`, proto): UDP queries in flight, TCP
        #: and TLS connections open.
        self.sockets: dict[tuple[object, str], int] = {}
        #: Attempts that got no socket: "busy" (the caps of `limits`) or "descriptors" (none left).
        self.socket_failures: collections.Counter[str] = collections.Counter()
        self.observers: list[Observer] = []

    def request(self, proxy_name: str, to: str, rcode: str, seconds: float) -> None:
        key = (proxy_name, to, rcode)
        self.requests[key] += 1
        self.request_seconds[key] += seconds
        for observe in self.observers:
            observe(proxy_name, to, rcode, seconds)


METRICS = ProxyMetrics()

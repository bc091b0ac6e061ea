"""CoreDNS's metrics, defined once, served through prometheus_client.

Counting happens in plain dicts keyed by label tuples, which costs a dict
update per query; prometheus_client turns them into metric families only when
``/metrics`` is scraped (a custom collector). prometheus_client's own
``Counter.labels(...).inc()`` would cost a lock and a label lookup per query
on the hot path. The registry is process-wide so that series survive reloads.

Names, types, labels and buckets follow CoreDNS's ``plugin/metrics`` README:
``view`` is always empty (kdns has no view plugin).
"""

from __future__ import annotations

import bisect
import platform
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from kdns import __version__

#: CoreDNS's plugin.TimeBuckets: prometheus.ExponentialBuckets(0.00025, 2, 16).
TIME_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
SIZE_BUCKETS = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3)
#: Query types CoreDNS labels by name; the rest are "other".
MONITORED_TYPES = {
    1: "A",
    28: "AAAA",
    2: "NS",
    12: "PTR",
    6: "SOA",
    5: "CNAME",
    15: "MX",
    16: "TXT",
    33: "SRV",
    35: "NAPTR",
    43: "DS",
    48: "DNSKEY",
    46: "RRSIG",
    47: "NSEC",
    50: "NSEC3",
    251: "IXFR",
    252: "AXFR",
    255: "ANY",
    64: "SVCB",
    65: "HTTPS",
}
#: The zone label of queries no server block took (CoreDNS's vars.Dropped).
DROPPED = "dropped"

registry = CollectorRegistry(auto_describe=True)


def type_label(qtype: int) -> str:
    return MONITORED_TYPES.get(qtype, "other")


@dataclass
class Histogram:
    """Bucket counts (not cumulative), sum and count for one label set."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((_float_text(bound), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


def _float_text(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class Counters:
    """Counters and histograms by label tuple; one instance per metric family."""

    def __init__(
        self,
        name: str,
        doc: str,
        labels: tuple[str, ...],
        kind: str = "counter",
        bounds: tuple[float, ...] = (),
    ) -> None:
        self.name = name
        self.doc = doc
        self.labels = labels
        self.kind = kind
        self.bounds = bounds
        self.values: dict[tuple[str, ...], float] = {}
        self.histograms: dict[tuple[str, ...], Histogram] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1) -> None:
        self.values[key] = self.values.get(key, 0) + amount

    def set(self, key: tuple[str, ...], value: float) -> None:
        self.values[key] = value

    def observe(self, key: tuple[str, ...], value: float) -> None:
        hist = self.histograms.get(key)
        if hist is None:
            hist = self.histograms[key] = Histogram(self.bounds)
        hist.observe(value)

    def family(self) -> Metric:
        if self.kind == "histogram":
            fam = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
            for key, hist in self.histograms.items():
                fam.add_metric(list(key), hist.buckets(), hist.total)
            return fam
        scalar: CounterMetricFamily | GaugeMetricFamily
        if self.kind == "counter":
            scalar = CounterMetricFamily(self.name[: -len("_total")], self.doc, labels=self.labels)
        else:
            scalar = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in self.values.items():
            scalar.add_metric(list(key), value)
        return scalar


class Collector:
    """Hands every registered family to prometheus_client at scrape time."""

    def __init__(self) -> None:
        self.families: dict[str, Counters] = {}
        self.callbacks: list[Callable[[], None]] = []

    def family(
        self,
        name: str,
        doc: str,
        labels: Iterable[str],
        *,
        kind: str = "counter",
        bounds: tuple[float, ...] = (),
    ) -> Counters:
        found = self.families.get(name)
        if found is None:
            found = self.families[name] = Counters(name, doc, tuple(labels), kind, bounds)
        return found

    def collect(self) -> Iterator[Metric]:
        for callback in list(self.callbacks):
            callback()
        for counters in self.families.values():
            yield counters.family()

    def describe(self) -> Iterator[Metric]:
        return iter(())


collector = Collector()
registry.register(collector)


def family(
    name: str,
    doc: str,
    labels: Iterable[str],
    *,
    kind: str = "counter",
    bounds: tuple[float, ...] = (),
) -> Counters:
    """The process-wide family ``name`` (created on first use, kept across reloads)."""
    return collector.family(name, doc, labels, kind=kind, bounds=bounds)


def on_collect(callback: Callable[[], None]) -> None:
    """Run ``callback`` before each scrape (to refresh gauges such as cache sizes)."""
    collector.callbacks.append(callback)


# --- the core DNS families -------------------------------------------------------------------

REQUESTS = family(
    "coredns_dns_requests_total",
    "Counter of DNS requests made per zone, protocol and family.",
    ("server", "zone", "view", "proto", "family", "type"),
)
RESPONSES = family(
    "coredns_dns_responses_total",
    "Counter of response status codes.",
    ("server", "zone", "view", "rcode", "plugin"),
)
DURATION = family(
    "coredns_dns_request_duration_seconds",
    "Histogram of the time (in seconds) each request took per zone.",
    ("server", "zone", "view", "type"),
    kind="histogram",
    bounds=TIME_BUCKETS,
)
REQUEST_SIZE = family(
    "coredns_dns_request_size_bytes",
    "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
    ("server", "zone", "view", "proto"),
    kind="histogram",
    bounds=SIZE_BUCKETS,
)
RESPONSE_SIZE = family(
    "coredns_dns_response_size_bytes",
    "Size of the returned response in bytes.",
    ("server", "zone", "view", "proto"),
    kind="histogram",
    bounds=SIZE_BUCKETS,
)
DO_REQUESTS = family(
    "coredns_dns_do_requests_total",
    "Counter of DNS requests with DO bit set per zone.",
    ("server", "view", "zone"),
)
PANICS = family("coredns_panics_total", "A metrics that counts the number of panics.", ())
PLUGIN_ENABLED = family(
    "coredns_plugin_enabled",
    "A metric that indicates whether a plugin is enabled on per server and zone basis.",
    ("server", "zone", "view", "name"),
    kind="gauge",
)
BUILD_INFO = family(
    "coredns_build_info",
    "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
    ("version", "revision", "goversion"),
    kind="gauge",
)
BUILD_INFO.set((__version__, "kdns", f"python{platform.python_version()}"), 1)
RELOAD_FAILED = family(
    "coredns_reload_failed_total", "Counter of the number of failed reload attempts.", ()
)
HEALTH_DURATION = family(
    "coredns_health_request_duration_seconds",
    "Histogram of the time (in seconds) each request took.",
    (),
    kind="histogram",
    bounds=TIME_BUCKETS,
)
HEALTH_FAILURES = family(
    "coredns_health_request_failures_total", "The number of times the health check failed.", ()
)

# --- kdns's own resource gauges --------------------------------------------------------------

TCP_CONNECTIONS = family(
    "kdns_tcp_connections",
    "Open TCP connections per server (listen address).",
    ("server",),
    kind="gauge",
)


def server_label(scheme: str, host: str, port: int) -> str:
    """CoreDNS's ``server`` metric label: ``dns://:53``, or ``dns://127.0.0.1:53`` with bind."""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"

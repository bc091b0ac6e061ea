"""Counts every query that passes through, as CoreDNS's metrics plugin does."""

from __future__ import annotations

import functools
import time
from bisect import bisect_left

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kdns import http, metrics, plugin, replay, wire
from kdns.request import Request

_RCODES = {code: name for code, name in wire.RCODE_NAMES.items()}
_TIME = metrics.TIME_BUCKETS
_SIZE = metrics.SIZE_BUCKETS


class _Tally:
    """Everything counted for one combination of labels; folded into families at scrape time."""

    __slots__ = (
        "count",
        "duration",
        "duration_sum",
        "request",
        "request_sum",
        "response",
        "response_sum",
    )

    def __init__(self) -> None:
        self.count = 0
        self.duration = [0] * (len(_TIME) + 1)
        self.duration_sum = 0.0
        self.request = [0] * (len(_SIZE) + 1)
        self.request_sum = 0
        self.response = [0] * (len(_SIZE) + 1)
        self.response_sum = 0

    def add(
        self, request: int, request_size: int, response: int, response_size: int, elapsed: float
    ) -> None:
        """One query, given its size buckets; ``response`` < 0 when it got no reply (a drop).
        Replays call it with buckets worked out once, when the reply was kept."""
        self.count += 1
        self.duration[bisect_left(_TIME, elapsed)] += 1
        self.duration_sum += elapsed
        self.request[request] += 1
        self.request_sum += request_size
        if response >= 0:
            self.response[response] += 1
            self.response_sum += response_size


#: (server, zone, proto, family, type, do, rcode or None for a drop, plugin) -> tally.
#: Process-wide, so series survive reloads.
TALLIES: dict[tuple[str, str, str, str, str, bool, str | None, str], _Tally] = {}
#: The same for replies replayed by UDP reader threads (``kdns.replay``): each tally here is
#: written by one reader thread only, never by the event loop's.
REPLAYED: dict[tuple[str, str, str, str, str, bool, str | None, str], _Tally] = {}


#: Replies sent by UDP reader threads from kept replies, per server (kdns's own family).
REPLAYS = metrics.family(
    "kdns_replayed_replies_total",
    "Counter of replies replayed from the UDP replay tables, without running the chain.",
    ("server",),
)


def _fold() -> None:
    """Rebuild the CoreDNS families from the tallies (runs before each scrape)."""
    families = (
        metrics.REQUESTS,
        metrics.RESPONSES,
        metrics.DO_REQUESTS,
        metrics.DURATION,
        metrics.REQUEST_SIZE,
        metrics.RESPONSE_SIZE,
    )
    for family in (*families, REPLAYS):
        family.values.clear()
        family.histograms.clear()
    for (server, *_labels), t in list(REPLAYED.items()):
        REPLAYS.inc((server,), t.count)
    tallies = [*TALLIES.items(), *REPLAYED.items()]
    for (server, zone, proto, fam, qtype, do, rcode, plugin_name), t in tallies:
        metrics.REQUESTS.inc((server, zone, "", proto, fam, qtype), t.count)
        if do:
            metrics.DO_REQUESTS.inc((server, "", zone), t.count)
        _merge(metrics.DURATION, (server, zone, "", qtype), t.duration, t.duration_sum)
        _merge(metrics.REQUEST_SIZE, (server, zone, "", proto), t.request, t.request_sum)
        if rcode is not None:
            metrics.RESPONSES.inc((server, zone, "", rcode, plugin_name), t.count)
            _merge(metrics.RESPONSE_SIZE, (server, zone, "", proto), t.response, t.response_sum)


def _merge(family: metrics.Counters, key: tuple[str, ...], counts: list[int], total: float) -> None:
    hist = family.histograms.get(key)
    if hist is None:
        hist = family.histograms[key] = metrics.Histogram(family.bounds)
    for i, n in enumerate(counts):
        hist.counts[i] += n
    hist.total += total


metrics.on_collect(_fold)


class Metrics:
    """Counts every query as CoreDNS's metrics plugin does: one dict lookup and a few list
    increments per query; label sets are assembled only when /metrics is scraped."""

    name = "prometheus"
    lease = replay.PURE

    def __init__(self, next: plugin.Handler) -> None:
        self.next = next

    def serve(self, req: Request) -> plugin.Result:
        start = time.perf_counter()
        result = self.next.serve(req)
        if type(result) is wire.Answer:
            self._record(req, result, start)
            return result
        return plugin.then(result, lambda answer: self._record(req, answer, start))

    def replay_counter(self, req: Request, answer: wire.Answer, size: int) -> replay.Counter:
        key = _labels(req, answer)
        tally = REPLAYED.get(key)
        if tally is None:
            tally = REPLAYED[key] = _Tally()
        asked = len(req.data)
        return functools.partial(
            tally.add, bisect_left(_SIZE, asked), asked, bisect_left(_SIZE, size), size
        )

    def _record(self, req: Request, answer: wire.Answer, start: float) -> wire.Answer:
        elapsed = time.perf_counter() - start
        key = _labels(req, answer)
        tally = TALLIES.get(key)
        if tally is None:
            tally = TALLIES[key] = _Tally()
        asked = len(req.data)
        if answer is wire.DROP:
            tally.add(bisect_left(_SIZE, asked), asked, -1, 0, elapsed)
        else:
            size = wire.reply_size(req, answer, req.size)
            tally.add(bisect_left(_SIZE, asked), asked, bisect_left(_SIZE, size), size, elapsed)
        return answer


def _labels(
    req: Request, answer: wire.Answer
) -> tuple[str, str, str, str, str, bool, str | None, str]:
    return (
        req.server,
        req.zone,
        req.proto,
        "2" if ":" in req.remote[0] else "1",
        metrics.type_label(req.qtype),
        req.do,
        None if answer is wire.DROP else (_RCODES.get(answer.rcode) or str(answer.rcode)),
        answer.plugin,
    )


class Endpoint:
    """``/metrics`` on one address, shared by every server block naming it."""

    def __init__(self, address: str) -> None:
        self.endpoint = http.endpoint(address, 9153)
        self._acquired = False

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self.endpoint.get("/metrics", self._metrics)
        await self.endpoint.acquire("prometheus")
        self._acquired = True

    async def stop(self) -> None:
        # Only what start acquired: a configuration that failed to start runs every cleanup
        # hook, and must not release an endpoint the running configuration holds.
        if self._acquired:
            self._acquired = False
            await self.endpoint.release()

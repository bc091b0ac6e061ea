"""Counts every query that passes through, as CoreDNS's metrics plugin does."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kdns import http, metrics, plugin, wire
from kdns.request import Request

_RCODES = {code: name for code, name in wire.RCODE_NAMES.items()}


class Metrics:
    name = "prometheus"

    def __init__(self, next: plugin.Handler) -> None:
        self.next = next

    def serve(self, req: Request) -> plugin.Result:
        start = time.perf_counter()
        result = self.next.serve(req)
        if type(result) is wire.Answer:
            self._record(req, result, start)
            return result
        return plugin.then(result, lambda answer: self._record(req, answer, start))

    def _record(self, req: Request, answer: wire.Answer, start: float) -> wire.Answer:
        elapsed = time.perf_counter() - start
        server, zone, proto = req.server, req.zone, req.proto
        qtype = metrics.type_label(req.qtype)
        metrics.REQUESTS.inc((server, zone, "", proto, "2" if ":" in req.remote[0] else "1", qtype))
        if req.do:
            metrics.DO_REQUESTS.inc((server, "", zone))
        metrics.REQUEST_SIZE.observe((server, zone, "", proto), len(req.data))
        metrics.DURATION.observe((server, zone, "", qtype), elapsed)
        if answer is wire.DROP:
            return answer
        rcode = _RCODES.get(answer.rcode) or str(answer.rcode)
        metrics.RESPONSES.inc((server, zone, "", rcode, answer.plugin))
        metrics.RESPONSE_SIZE.observe(
            (server, zone, "", proto), wire.reply_size(req, answer, req.size)
        )
        return answer


class Endpoint:
    """``/metrics`` on one address, shared by every server block naming it."""

    def __init__(self, address: str) -> None:
        self.endpoint = http.endpoint(address, 9153)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self.endpoint.get("/metrics", self._metrics)
        await self.endpoint.acquire()

    async def stop(self) -> None:
        await self.endpoint.release()

"""``GET /ready``: 200 when every plugin that reports readiness is ready, else 503.

The 503 body lists the plugins still not ready, comma separated (CoreDNS logs
``Still waiting on: "kubernetes"``). While shutting down (lameduck) it is 503
at once, so the pod leaves the Service endpoints before its listeners close.
"""

from __future__ import annotations

import logging

from aiohttp import web

from kdns import config, http

log = logging.getLogger("kdns.plugin.ready")


class Ready:
    def __init__(self, address: str, hooks: config.Hooks) -> None:
        self.hooks = hooks
        self.endpoint = http.endpoint(address, 8181)
        self._acquired = False
        self._last_waiting = ""

    def waiting(self) -> list[str]:
        return sorted(name for name, check in self.hooks.readiness.items() if not check())

    async def _ready(self, request: web.Request) -> web.Response:
        if self.hooks.draining:
            return web.Response(status=503, text="Shutting down")
        waiting = self.waiting()
        if waiting:
            text = ",".join(waiting)
            if text != self._last_waiting:
                log.info('plugin/ready: Still waiting on: "%s"', text)
                self._last_waiting = text
            return web.Response(status=503, text=text)
        self._last_waiting = ""
        return web.Response(text="OK")

    async def start(self) -> None:
        self.endpoint.get("/ready", self._ready)
        await self.endpoint.acquire("ready")
        self._acquired = True

    async def stop(self) -> None:
        # Only what start acquired: a configuration that failed to start runs every cleanup
        # hook, and must not release an endpoint the running configuration holds.
        if self._acquired:
            self._acquired = False
            await self.endpoint.release()

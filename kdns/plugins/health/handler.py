"""``GET /health`` answers 200 OK while the process runs, lameduck included.

Liveness must not depend on the API server or upstreams (a blip would get every
DNS pod restarted), and must stay 200 while draining so the pod is not killed
before it has left the Service endpoints (CoreDNS #4084).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from kdns import http

log = logging.getLogger("kdns.plugin.health")


class Health:
    def __init__(self, address: str) -> None:
        self.endpoint = http.endpoint(address, 8080)
        self._acquired = False
        self.lameduck = 0.0

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def start(self) -> None:
        self.endpoint.get("/health", self._health)
        await self.endpoint.acquire("health")
        self._acquired = True

    async def enter_lameduck(self) -> None:
        if self.lameduck > 0:
            log.info("plugin/health: Going into lameduck mode for %gs", self.lameduck)
            await asyncio.sleep(self.lameduck)

    async def stop(self) -> None:
        # Only what start acquired: a configuration that failed to start runs every cleanup
        # hook, and must not release an endpoint the running configuration holds.
        if self._acquired:
            self._acquired = False
            await self.endpoint.release()

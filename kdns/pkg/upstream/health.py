"""Health checks of one upstream, run only while it is failing, as CoreDNS runs them.

A failed query "kicks" the checker. It then sends ``DOMAIN IN NS`` (``.`` unless ``health_check
... domain`` says otherwise; RD set unless ``no_rec``) every ``interval`` until one gets any reply:
any rcode counts as healthy, only network errors and timeouts are failures (CoreDNS's rule,
coredns/coredns#7184); a check for which kdns could not open a socket (out of descriptors) counts
neither way. Each failure adds one to the upstream's ``fails``; with ``max_fails`` or
more the upstream is down and queries skip it. The first reply sets ``fails`` back to 0 and ends
the checks until the next failed query. At most one checker runs per upstream.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kdns.pkg.upstream import errors, message, transport
from kdns.pkg.upstream.metrics import METRICS

if TYPE_CHECKING:
    from kdns.pkg.upstream.proxy import Proxy

log = logging.getLogger("kdns.plugin.forward")


@dataclass(frozen=True, slots=True)
class HealthOptions:
    #: Seconds between checks while the upstream fails; 0 turns checking off.
    interval: float = 0.5
    #: Failed checks in a row that mark the upstream down; 0 never marks it down.
    max_fails: int = 2
    recursion_desired: bool = True
    domain: str = "."
    #: Check over TCP (``force_tcp``); TLS upstreams are always checked over TLS.
    tcp: bool = False
    #: CoreDNS's health-check client waits 1 s for a reply.
    timeout: float = 1.0


class Checker:
    def __init__(self, proxy: Proxy, options: HealthOptions) -> None:
        self.proxy = proxy
        self.options = options
        self.template = message.query(
            message.question(options.domain, message.TYPE_NS),
            rd=options.recursion_desired,
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def kick(self) -> None:
        """Start checking, unless checks are off or already running."""
        if self.options.interval <= 0 or self.options.max_fails <= 0 or self.running:
            return
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"forward-health-{self.proxy.addr}"
        )

    async def _run(self) -> None:
        proxy = self.proxy
        try:
            while True:
                result = await self.check()
                if result:
                    if proxy.fails >= self.options.max_fails:
                        log.info("plugin/forward: upstream %s is healthy again", proxy.addr)
                    proxy.fails = 0
                    return
                if result is not None:
                    proxy.fails += 1
                    METRICS.healthcheck_failures[(proxy.name, str(proxy.addr))] += 1
                    if proxy.fails == self.options.max_fails:
                        log.warning(
                            "plugin/forward: upstream %s is down after %d failed health checks",
                            proxy.addr,
                            proxy.fails,
                        )
                await asyncio.sleep(self.options.interval)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.error("plugin/forward: health checks of %s stopped: %r", proxy.addr, err)

    async def check(self) -> bool | None:
        """One probe on a socket of its own: True if anything came back, False if nothing did,
        None if kdns could not open a socket (not the upstream's fault: not counted)."""
        proxy = self.proxy
        timeout = self.options.timeout
        try:
            if proxy.tls is not None or self.options.tcp:
                conn = await transport.connect(
                    proxy.addr, timeout=timeout, tls=proxy.tls, server_name=proxy.server_name
                )
                try:
                    await conn.exchange(self.template, timeout=timeout, cached=False)
                finally:
                    conn.close()
            else:
                await transport.exchange_udp(
                    proxy.addr, self.template, timeout=timeout, gated=False
                )
        except errors.Exhausted as err:
            log.debug("plugin/forward: health check of %s: %s", proxy.addr, err)
            return None
        except errors.UpstreamError as err:
            log.debug("plugin/forward: health check of %s: %s", proxy.addr, err)
            return False
        return True

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the checks; returns the cancelled task, for a caller that waits for its end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        return task

"""One upstream server: how to reach it, how it has been doing, and its health checker."""

from __future__ import annotations

import asyncio
import ssl
import time

from kdns import wire
from kdns.pkg.upstream import datagram, errors, health, message, transport
from kdns.pkg.upstream.metrics import METRICS

#: How long closing waits for cancelled health checks to finish their cleanup.
CLOSE_WAIT = 1.0


class Proxy:
    """An upstream at ``addr``, over plain DNS (UDP or TCP per query) or over TLS only."""

    def __init__(
        self,
        addr: transport.Address,
        *,
        name: str = "forward",
        tls: ssl.SSLContext | None = None,
        server_name: str | None = None,
        expire: float = 10.0,
        health_options: health.HealthOptions | None = None,
    ) -> None:
        self.addr = addr
        self.name = name
        self.tls = tls
        self.server_name = server_name
        #: Health checks failed in a row; reset by the first one that gets a reply.
        self.fails = 0
        self._to = str(addr)
        self.pools = {transport.TCP: transport.Pool(expire), transport.TLS: transport.Pool(expire)}
        self.health = health.Checker(self, health_options or health.HealthOptions())
        self.closed = False
        self._stopping: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        scheme = "tls://" if self.tls is not None else ""
        return f"Proxy({scheme}{self.addr})"

    def down(self) -> bool:
        """Whether health checks marked this upstream down."""
        max_fails = self.health.options.max_fails
        return max_fails > 0 and self.fails >= max_fails

    def healthcheck(self) -> None:
        """A query failed: check this upstream until it answers again."""
        if not self.closed:
            self.health.kick()

    async def exchange(self, template: bytes, *, proto: str, timeout: float) -> transport.Reply:
        """Send the query ``template`` (no ID) over ``proto`` (TLS upstreams always use TLS).

        :raises errors.UpstreamError: when no reply came within ``timeout`` seconds;
            `errors.Busy` or `errors.Exhausted` when kdns had no socket for it.
        """
        start = time.monotonic()
        try:
            if self.tls is not None:
                reply = await self._stream(template, transport.TLS, timeout)
            elif proto == transport.TCP:
                reply = await self._stream(template, transport.TCP, timeout)
            else:
                reply = await datagram.exchange(self.addr, template, timeout=timeout)
        except errors.Busy:
            METRICS.socket_failures["busy"] += 1
            raise
        except errors.Exhausted:
            METRICS.socket_failures["descriptors"] += 1
            raise
        code = message.rcode(reply.data)
        METRICS.request(
            self.name,
            self._to,
            wire.RCODE_NAMES.get(code, str(code)),
            time.monotonic() - start,
        )
        return reply

    async def _stream(self, template: bytes, proto: str, timeout: float) -> transport.Reply:
        return await self.pools[proto].exchange(
            self._connect, template, timeout=timeout, key=(self.name, self._to, proto)
        )

    async def _connect(self, timeout: float) -> transport.StreamConn:
        return await transport.connect(
            self.addr, timeout=timeout, tls=self.tls, server_name=self.server_name
        )

    def close(self) -> None:
        """Stop health checks and close pooled connections (the configuration was unloaded)."""
        self.closed = True
        self._stopping = self.health.stop()
        for pool in self.pools.values():
            pool.close()

    async def wait_closed(self) -> None:
        """After `close`: wait (up to ``CLOSE_WAIT``) for the cancelled health checks to end."""
        if self._stopping is not None:
            await asyncio.wait({self._stopping}, timeout=CLOSE_WAIT)

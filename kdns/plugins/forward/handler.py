"""Forward a query to the upstreams, one after another, until one answers or time runs out.

This follows CoreDNS's ``Forward.ServeDNS``:

- Names outside **FROM**, or under an ``except`` zone (but not **FROM** itself), go to the next
  plugin.
- Beyond ``max_concurrent`` queries in flight the answer is REFUSED at once; that is an error the
  server writes, so no cache keeps it (coredns/coredns#4326).
- The upstreams are tried in the policy's order within one 5 s deadline, each for at most
  ``read_timeout`` (2 s). A failed attempt starts the upstream's health checks and moves on to the
  next upstream; upstreams marked down are skipped. When every upstream is down, a random one is
  tried anyway, or with ``failfast_all_unhealthy_upstreams`` the answer is SERVFAIL at once.
- SERVFAIL comes only when no attempt got a reply; its error is the last failure, which the
  errors plugin logs as ``2 NAME. TYPE: read udp SRC->DST: i/o timeout``.
- An attempt that found no free socket under kdns's caps (`errors.Busy`) moves on to the next
  upstream without starting health checks; one for which kdns could not open a socket at all
  (`errors.Exhausted`, out of descriptors) ends the query with SERVFAIL at once.
- The protocol upstream is the client's, TCP with ``force_tcp``, UDP with ``prefer_udp``. A
  truncated reply goes to the client as it is (TC set, so it retries over TCP), except with
  ``prefer_udp``, where forward retries over TCP itself.
- A reply whose rcode is listed in ``next`` sends the query on to the next plugin instead.
"""

from __future__ import annotations

import asyncio
import random

from kdns import plugin, replay, wire
from kdns.pkg import dnsname
from kdns.pkg.upstream import errors, message, transport
from kdns.pkg.upstream.proxy import Proxy
from kdns.plugins.forward.metrics import METRICS
from kdns.plugins.forward.options import Options
from kdns.plugins.forward.policy import Policy
from kdns.request import TCP, Request

#: CoreDNS's overall deadline for one query, across every upstream tried.
DEADLINE = 5.0
#: Passes over the upstream list per query. Timeouts use up the deadline first; this bound only
#: stops a query from spinning on upstreams that refuse at once (CoreDNS spins until health
#: checks mark them down).
MAX_ROUNDS = 3
NO_HEALTHY = "no healthy proxies"


class Forward:
    name = "forward"
    lease = replay.PURE

    def __init__(
        self, next: plugin.Handler, options: Options, proxies: list[Proxy], policy: Policy
    ) -> None:
        self.next = next
        self.options = options
        self.proxies = proxies
        self.policy = policy
        self._from = wire.text_to_name(options.from_zone)
        self._from_set = frozenset((self._from,))
        self._ignored = frozenset(wire.text_to_name(z) for z in options.ignored)
        self._next_rcodes = options.next_rcodes
        self._refused = wire.Answer.failure(
            wire.REFUSED, f"concurrent queries exceeded maximum {options.max_concurrent}"
        )
        self._no_healthy = wire.Answer.failure(wire.SERVFAIL, NO_HEALTHY)
        #: Queries in flight, counted only when ``max_concurrent`` is set.
        self.inflight = 0

    def match(self, req: Request) -> bool:
        """Whether this forward handles ``req``'s name (FROM, minus ``except``)."""
        name = req.key[:-4]
        if not dnsname.within_any(name, self._from_set):
            return False
        if name == self._from or not self._ignored:
            return True
        return not dnsname.within_any(name, self._ignored)

    def serve(self, req: Request) -> plugin.Result:
        if not self.match(req):
            return self.next.serve(req)
        if self.options.max_concurrent:
            return self._limited(req)
        return self._forward(req)

    async def _limited(self, req: Request) -> wire.Answer:
        # Counted inside the coroutine: a task cancelled before it starts never runs a
        # ``finally``, so counting in ``serve`` could leak a slot per dropped TCP client.
        if self.inflight >= self.options.max_concurrent:
            METRICS.max_concurrent_rejects += 1
            return self._refused
        self.inflight += 1
        try:
            return await self._forward(req)
        finally:
            self.inflight -= 1

    def _protocol(self, req: Request) -> str:
        if self.options.force_tcp:
            return transport.TCP
        if self.options.prefer_udp:
            return transport.UDP
        return transport.TCP if req.proto == TCP else transport.UDP

    async def _forward(self, req: Request) -> wire.Answer:
        options = self.options
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        template = message.from_client(req)
        proto = self._protocol(req)
        retry_tcp = options.prefer_udp and not options.force_tcp
        proxies = self.policy.order(self.proxies)
        count = len(proxies)
        index = 0
        down = 0
        attempts = 0
        error: errors.UpstreamError | None = None
        while (remaining := deadline - loop.time()) > 0 and attempts < MAX_ROUNDS * count:
            if index >= count:
                index = 0
                down = 0
            proxy = proxies[index]
            index += 1
            if proxy.down():
                down += 1
                if down < count:
                    continue
                METRICS.healthcheck_broken += 1
                if options.failfast_all_unhealthy_upstreams:
                    break
                # Health checking itself may be what is broken: try a random upstream.
                proxy = random.choice(self.proxies)
            attempts += 1
            try:
                reply = await proxy.exchange(
                    template, proto=proto, timeout=min(options.read_timeout, remaining)
                )
                if retry_tcp and proto == transport.UDP and reply.data[2] & wire.TC:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    reply = await proxy.exchange(
                        template, proto=transport.TCP, timeout=min(options.read_timeout, remaining)
                    )
            except errors.Exhausted as err:
                error = err  # kdns is out of sockets: no other upstream would fare better
                break
            except errors.Busy as err:
                error = err  # kdns's own cap, not the upstream's failure: no health check
                if down < count:
                    continue
                break
            except errors.UpstreamError as err:
                error = err
                proxy.healthcheck()
                if down < count:
                    continue
                break
            answer = message.to_answer(reply.data, reply.verdict)
            if answer.rcode in self._next_rcodes:
                return await plugin.resolve(self.next.serve(req))
            return answer
        if error is None:
            return self._no_healthy
        return wire.Answer.failure(wire.SERVFAIL, str(error))

"""Count the loop probe as it passes through the chain; seen three times means a loop.

At startup `Prober` sends ``<random>.<random>.ZONE. HINFO`` to the server block's own address.
Every time that query reaches this plugin it is counted: once for the probe itself, and once more
for every time forward sent it round to this server again. Past two (CoreDNS's threshold) the
query is going round in circles, so kdns logs CoreDNS's FATAL line and stops with exit code 1
instead of burning CPU and sockets forever (the classic case: a node's resolv.conf pointing at
systemd-resolved's 127.0.0.53, coredns/coredns#2087).

The probe's answer, whatever it is, goes back through the chain unchanged, except that an error
logged for it (an upstream that ignores HINFO times out) is labelled as the loop probe, so users
do not take it for a failing client query (coredns/coredns#4211).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from kdns import plugin, replay, wire
from kdns.pkg.upstream import errors, message
from kdns.request import Request

log = logging.getLogger("kdns.plugin.loop")

TROUBLESHOOTING = "https://coredns.io/plugins/loop#troubleshooting"
PROBE_LABEL = " (loop detection probe)"
#: Seconds between detecting a loop and stopping kdns.
UNWIND = 0.2


def probe_name(zone: str) -> str:
    """``<rand>.<rand>.ZONE.``, two non-negative 63-bit numbers as Go's ``rand.Int`` makes them."""
    first, second = secrets.randbits(63), secrets.randbits(63)
    if zone == ".":
        return f"{first}.{second}."
    return f"{first}.{second}.{zone}"


class Loop:
    name = "loop"

    def __init__(self, zone: str, *, on_loop: Callable[[], None]) -> None:
        self.next: plugin.Handler = plugin.NoNext(self.name)
        self.zone = zone.lower()
        self.qname = probe_name(self.zone)
        self._key = wire.text_to_name(self.qname) + message.TYPE_HINFO.to_bytes(2, "big")
        self._on_loop = on_loop
        #: How often the probe came through since the last reset.
        self.seen = 0
        #: What its pass-on decisions depend on (``kdns.replay``): ended while the probe is
        #: out, since this plugin must count every probe; alive once probing is over.
        self.lease = replay.ENDED
        #: The address the probe was sent to, as CoreDNS prints it (``:53`` for every address).
        self.address = ""
        self.detected = False

    @property
    def disabled(self) -> bool:
        """Set once probing is over: from then on this plugin only passes queries on."""
        return self.lease.alive

    @disabled.setter
    def disabled(self, value: bool) -> None:
        if value and not self.lease.alive:
            self.lease = replay.Lease()
        elif not value and self.lease.alive:
            self.lease.end()
            self.lease = replay.ENDED

    def wrap(self, next: plugin.Handler) -> Loop:
        self.next = next
        return self

    def reset(self) -> None:
        self.seen = 0

    def serve(self, req: Request) -> plugin.Result:
        if self.disabled or req.qtype != message.TYPE_HINFO:
            return self.next.serve(req)
        if req.key[:-2] != self._key:
            return self.next.serve(req)
        self.seen += 1
        if self.seen > 2:
            if not self.detected:
                self.detected = True
                self._fatal(req)
            # Answer instead of passing it on: every hop waiting on this probe gets its reply at
            # once, so nothing is left in flight to hold up the shutdown.
            return _BREAK
        return plugin.then(self.next.serve(req), _label_probe_error)

    def _fatal(self, req: Request) -> None:
        remote = errors.address(req.remote[0], req.remote[1])
        log.critical(
            'plugin/loop: Loop (%s -> %s) detected for zone "%s", see %s. Query: "HINFO %s"',
            remote,
            self.address,
            self.zone,
            TROUBLESHOOTING,
            self.qname,
        )
        # Stop a moment later, once the hops still waiting on this probe have had their replies,
        # so that the shutdown does not wait for them to time out.
        asyncio.get_running_loop().call_later(UNWIND, self._on_loop)


#: A plain SERVFAIL reply (not an error for the errors plugin to log again).
_BREAK = wire.Answer(rcode=wire.SERVFAIL, body=b"", flags=wire.QR << 8)


def _label_probe_error(answer: wire.Answer) -> wire.Answer:
    if answer.body is None and answer.error and not answer.error.endswith(PROBE_LABEL):
        return wire.Answer.failure(answer.rcode, answer.error + PROBE_LABEL)
    return answer

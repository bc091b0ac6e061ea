"""How many sockets the upstream layer may hold, and what a query gets when none is free.

A client decides how many queries kdns forwards at once, so without caps it decides how many
sockets kdns opens: 10,000 queries pipelined on one TCP connection once opened 5,000 upstream
connections and ran the process out of descriptors, taking its listeners down with it. So:

- **UDP**: at most `udp_in_flight()` queries in flight at once in the process, a quarter of the
  soft ``RLIMIT_NOFILE`` between 16 and 1,024 (256 under the usual 1,024, 1,024 from 4,096 up).
  Each still leaves from a socket of its own on a fresh random port, opened for it and closed
  after it.
- **TCP and TLS**: at most `TCP_PER_UPSTREAM` connections per upstream, kept open and reused
  (closed after ``expire`` idle, as CoreDNS does). A query takes an idle connection, else opens one
  while under the cap, else is pipelined (RFC 7766) on the least busy one, up to `PIPELINE`
  queries per connection.
- A query that finds no free slot waits for one at most `QUEUE_WAIT` seconds, then that attempt
  fails with `errors.Busy` and the next upstream is tried (SERVFAIL if none answers).
- Running out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM) while opening a
  socket fails the query with `errors.Exhausted` (SERVFAIL at once: no other upstream would fare
  better), and is logged at most once every `LOG_EVERY` seconds.

Health checks and the loop plugin's probe go around the caps: each holds at most one socket per
upstream, and a check must not be starved by the queries it is there to rescue.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import resource
import time

from kdns.pkg.upstream import errors

log = logging.getLogger("kdns.plugin.forward")

TCP_PER_UPSTREAM = 8
PIPELINE = 64
QUEUE_WAIT = 1.0
UDP_MIN = 16
UDP_MAX = 1024
LOG_EVERY = 10.0

#: errnos that say the process or the system is out of sockets, not that the upstream failed.
OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


def udp_in_flight(nofile: int | None = None) -> int:
    """The cap on UDP queries in flight for a soft descriptor limit of ``nofile`` (this
    process's when None)."""
    if nofile is None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        nofile = UDP_MAX * 4 if soft == resource.RLIM_INFINITY else soft
    return max(UDP_MIN, min(UDP_MAX, nofile // 4))


class Gate:
    """``limit`` slots, taken first come first served; a taker waits a bounded time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_take(self) -> bool:
        if self.used < self.limit and not self._waiters:
            self.used += 1
            return True
        return False

    async def take(self, wait: float, what: str) -> None:
        """Take a slot, waiting at most ``wait`` seconds.

        :raises errors.Busy: naming ``what`` when no slot came free in time.
        """
        if self.try_take():
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(max(wait, 0.0), _give_up, waiter, what)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.give()  # handed a slot, then cancelled before it could be used
            raise
        finally:
            timer.cancel()

    def give(self) -> None:
        """Give a slot back: to the first waiter still waiting, or to the pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.used -= 1


def _give_up(waiter: asyncio.Future[None], what: str) -> None:
    if not waiter.done():
        waiter.set_exception(errors.Busy(what))


class Throttled:
    """Log a warning at most once every ``every`` seconds, saying how many were held back."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        self.every = every
        self._last = float("-inf")
        self._held = 0

    def warn(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            self._held += 1
            return
        held, self._held, self._last = self._held, 0, now
        if held:
            text += f" ({held} more since the last report)"
        log.warning("%s", text)


_EXHAUSTED = Throttled()


def exhausted(err: OSError, what: str) -> errors.Exhausted:
    """The error for a socket that could not be opened for lack of resources, logged (rarely)."""
    reason = err.strerror or str(err)
    _EXHAUSTED.warn(f"plugin/forward: cannot open a socket to {what}: {reason}; answering SERVFAIL")
    return errors.Exhausted(f"{what}: {reason}")

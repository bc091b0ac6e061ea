"""Micro-benchmark of a cache hit; run by hand, never by pytest (not a ``test_`` file).

    python -m tests.bench.cache_hit_bench

Prints microseconds (best of five runs) per ``Cache.serve`` on a fresh hit (the TTL-patched reply is memoized per
second, so this is the steady state), per hit that also pays the once-a-second re-render, and,
for scale, per ``wire.finalize`` of the same reply and per ``Request`` parse, the two steps the
server adds around every hit.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

from kdns import wire
from kdns.plugins.cache import handler, options, stats
from kdns.request import Request
from tests.support import seam

N = 200_000
REPEAT = 5


def best(fn: Callable[[], object], number: int) -> float:
    """Microseconds per call, the best of `REPEAT` runs (the least disturbed by other load)."""
    return min(timeit.repeat(fn, number=number, repeat=REPEAT)) / number * 1e6


def main() -> None:
    clock = seam.Clock()
    records = [f"svc.ns.svc.cluster.local. 3600 IN A 10.0.0.{i}" for i in range(1, 4)]
    upstream = seam.answer("svc.ns.svc.cluster.local.", "A", records)
    cache = handler.Cache(
        seam.Next(upstream),
        options.Options(zones=(".",)),
        clock=time.monotonic,
        registry=stats.Registry(),
    )
    data = seam.query("svc.ns.svc.cluster.local.", "A")
    req = Request(data, "udp", ("127.0.0.1", 5353))
    cache.serve(req)  # prime
    assert cache.stats.hits_success == 0

    per_hit = best(lambda: cache.serve(req), N)
    assert cache.stats.hits_success >= N

    # Every call in a new second: the TTL rewrite (one bytes.join) and a new Answer each time.
    cache.clock = clock
    cache.success.clear()
    cache.serve(req)

    def tick() -> wire.Answer:
        clock.advance(1.0)
        return cache.serve(req)  # type: ignore[return-value]

    ticks = 600  # REPEAT runs stay within the TTL's 3600 seconds: every call a hit
    per_rerender = best(tick, ticks)
    assert cache.stats.misses == 2
    answer = cache.serve(req)
    assert isinstance(answer, wire.Answer)
    per_finalize = best(lambda: wire.finalize(req, answer, 512), N)
    per_request = best(lambda: Request(data, "udp", ("127.0.0.1", 1)), N)

    print(f"cache hit (memoized TTL):        {per_hit:6.2f} us")
    print(f"cache hit (new second, re-TTL):  {per_rerender:6.2f} us")
    print(f"wire.finalize of the reply:      {per_finalize:6.2f} us")
    print(f"Request() parse of the query:    {per_request:6.2f} us")


if __name__ == "__main__":
    main()

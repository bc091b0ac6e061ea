"""A cache holds at most its capacity in entries and ``store.MAX_BYTES`` in bytes: a client that
asks its own domain for 60 KiB answers over TCP cannot make kdns hold 9,984 of them."""

from __future__ import annotations

import dataclasses

from kdns import wire
from kdns.plugins.cache import handler, options, stats, store
from kdns.request import Request
from tests.support import seam

TXT = '"' + "x" * 250 + '"'


NAME = "n.example.org."
#: About 60 KiB of TXT records, rendered once; the upstream gives it for every name (the cache
#: stores what it is given, which is all this test is about).
BIG = seam.answer(NAME, "TXT", [f"{NAME} 300 IN TXT {TXT}"] * 230)


def big(req: Request) -> wire.Answer:
    return BIG


def test_large_answers_for_distinct_names_stay_within_the_byte_budget() -> None:
    settings = dataclasses.replace(options.Options(zones=(".",)))
    cache = handler.Cache(seam.Next(big), settings, clock=seam.Clock(), registry=stats.Registry())
    size = len(BIG.body or b"")
    assert size > 55_000
    for i in range(600):
        cache.serve(seam.request(f"n{i}.example.org.", "TXT", proto="tcp"))
        assert cache.success.currsize <= store.MAX_BYTES
    # 600 answers of ~60 KiB, three copies each, would be over 100 MB; the budget holds.
    assert len(cache.success) < 600
    assert len(cache.success) * (3 * size) <= store.MAX_BYTES
    assert cache.success.currsize == sum(store.cost(e) for e in cache.success.values())


def test_the_entry_capacity_still_bounds_small_answers() -> None:
    s = store.Store(capacity=100)
    entry = fakes_entry()
    for i in range(1000):
        s.put(f"k{i}".encode(), entry)
        assert len(s) <= 100
    assert s.evictions == 900


def test_an_entry_larger_than_the_budget_is_not_stored() -> None:
    s = store.Store(capacity=100, max_bytes=1000)
    s.put(b"k", fakes_entry())
    assert len(s) == 1
    tiny = store.Store(capacity=100, max_bytes=10)
    tiny.put(b"k", fakes_entry())
    assert len(tiny) == 0


def fakes_entry() -> store.Entry:
    from kdns.pkg import response

    answer = seam.answer("a.example.org.", "A", ["a.example.org. 300 IN A 192.0.2.1"])
    return store.Entry(answer, response.records(answer), stored=0.0, ttl=300, positive=True)

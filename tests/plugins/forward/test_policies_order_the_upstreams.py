"""``policy``: sequential always starts with the first upstream, round_robin moves the start one
along per query, random draws a fresh order per query (CoreDNS's ``plugin/forward/policy.go``)."""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest

from kdns.plugins.forward import policy
from tests.support import children
from tests.support.upstream import FakeUpstream

QUERIES = 30


def test_sequential_keeps_the_list_order() -> None:
    p = policy.named("sequential")
    assert [list(p.order("abc")) for _ in range(3)] == [list("abc")] * 3


def test_round_robin_starts_one_further_each_time() -> None:
    p = policy.named("round_robin")
    assert ["".join(p.order("abc")) for _ in range(4)] == ["bac", "cab", "abc", "bac"]


def test_random_draws_every_order() -> None:
    p = policy.named("random")
    seen = collections.Counter("".join(p.order("abc")) for _ in range(600))
    assert set(seen) == {"abc", "acb", "bac", "bca", "cab", "cba"}


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown policy 'fastest'"):
        policy.named("fastest")


@pytest.fixture
def upstreams() -> Iterator[list[FakeUpstream]]:
    with FakeUpstream() as a, FakeUpstream() as b, FakeUpstream() as c:
        for i, up in enumerate((a, b, c)):
            up.answers[("who.example.", "A")] = [f"192.0.2.{i + 1}"]
        yield [a, b, c]


def answered_by(upstreams: list[FakeUpstream], name: str) -> list[str]:
    ports = " ".join(f"127.0.0.1:{up.port}" for up in upstreams)
    corefile = f".:{{port}} {{\n    forward . {ports} {{\n        policy {name}\n    }}\n}}\n"
    with children.serve(corefile) as srv:
        return [
            children.addresses(children.query(srv.port, "who.example"))[0] for _ in range(QUERIES)
        ]


def test_sequential_sends_everything_to_the_first(upstreams: list[FakeUpstream]) -> None:
    assert set(answered_by(upstreams, "sequential")) == {"192.0.2.1"}
    assert [up.count for up in upstreams] == [QUERIES, 0, 0]


def test_round_robin_alternates(upstreams: list[FakeUpstream]) -> None:
    answers = answered_by(upstreams, "round_robin")
    assert answers[:6] == ["192.0.2.2", "192.0.2.3", "192.0.2.1"] * 2
    assert [up.count for up in upstreams] == [QUERIES // 3] * 3


def test_random_spreads(upstreams: list[FakeUpstream]) -> None:
    answered_by(upstreams, "random")
    counts = [up.count for up in upstreams]
    assert sum(counts) == QUERIES
    # Each gets a third on average; one left out of 30 queries is a 1-in-60,000 event.
    assert min(counts) >= 1

"""The order in which a query tries the upstreams (``policy``), as CoreDNS's forward orders them.

- ``random`` (the default): a fresh random order for every query.
- ``round_robin``: each query starts one upstream further along, then goes on in list order.
- ``sequential``: always list order, so the first upstream takes everything while it answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")

NAMES = ("random", "round_robin", "sequential")


class Policy(Protocol):
    name: str

    def order(self, items: Sequence[T]) -> Sequence[T]: ...


class Random:
    name = "random"

    def order(self, items: Sequence[T]) -> Sequence[T]:
        if len(items) < 2:
            return items
        return random.sample(items, len(items))


class RoundRobin:
    name = "round_robin"

    def __init__(self) -> None:
        self._next = 0

    def order(self, items: Sequence[T]) -> Sequence[T]:
        if len(items) < 2:
            return items
        # CoreDNS increments first, so the first query starts at the second upstream.
        self._next += 1
        i = self._next % len(items)
        return [items[i], *items[:i], *items[i + 1 :]]


class Sequential:
    name = "sequential"

    def order(self, items: Sequence[T]) -> Sequence[T]:
        return items


def named(name: str) -> Policy:
    """A new policy object for ``name``, one of `NAMES`.

    :raises ValueError: for any other name.
    """
    if name == "random":
        return Random()
    if name == "round_robin":
        return RoundRobin()
    if name == "sequential":
        return Sequential()
    raise ValueError(f"unknown policy '{name}'")

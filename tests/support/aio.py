"""Small asyncio helpers for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest


async def eventually(
    predicate: Callable[[], bool], *, timeout: float = 3.0, interval: float = 0.005
) -> float:
    """Wait until ``predicate()`` holds; return the seconds it took, fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
    return loop.time() - start


async def stays(predicate: Callable[[], bool], *, duration: float, interval: float = 0.01) -> None:
    """Assert that ``predicate()`` holds throughout ``duration`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    while loop.time() < end:
        assert predicate()
        await asyncio.sleep(interval)

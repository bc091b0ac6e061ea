from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail an async test that leaves tasks running (kopf's ``_no_asyncio_pending_tasks``):
    a task left behind outlives what started it and is what leaks sockets and memory."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    for _ in range(50):
        leaked = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
        if not leaked:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"tasks leaked: {sorted(t.get_name() for t in leaked)}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test is checked for tasks it leaves running."""
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.usefixtures("_no_leaked_tasks"))


@pytest.fixture
def dig() -> str:
    """Path of dig; tests/run.sh installs it (Debian bind9-dnsutils), so its absence is a failure."""
    path = shutil.which("dig")
    assert path is not None, "dig is missing: run the tests with tests/run.sh"
    return path

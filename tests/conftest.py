from __future__ import annotations

import asyncio
import resource
import shutil
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

# Tests hold up to 1,000 TCP connections at once; the 1,024 descriptors processes start with
# would leave no room for the rest (kdns lifts its own limit the same way).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != resource.RLIM_INFINITY and _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 1 << 16), _hard))


@pytest.fixture
def dig() -> str:
    """Path of dig; tests/run.sh installs it (Debian bind9-dnsutils), so its absence is a failure."""
    path = shutil.which("dig")
    assert path is not None, "dig is missing: run the tests with tests/run.sh"
    return path


#: How long a task may take to finish its cancellation after the test's fixtures are torn down.
LEAK_GRACE_SECONDS = 1.0


@pytest.fixture(autouse=True)
def _no_leaked_tasks(request: pytest.FixtureRequest) -> None:
    """Fail an async test that leaves asyncio tasks running (kopf's ``_no_asyncio_pending_tasks``).

    A task left behind outlives what started it: it holds sockets and memory, and the loop's close
    cancels it without a word. The check runs in the test's own loop, whatever its scope; being
    set up first, it is torn down after the test's other fixtures and before the loop closes.
    """
    if not pytest_asyncio.is_async_test(request.node):
        return
    request.getfixturevalue(f"_no_leaked_tasks_in_{_loop_scope(request)}_loop")


def _loop_scope(request: pytest.FixtureRequest) -> str:
    """The loop scope pytest-asyncio runs this test in: its marker's, else the configured default."""
    marker = request.node.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope") if marker else None
    return str(scope or request.config.getini("asyncio_default_test_loop_scope"))


def _leak_check(loop_scope: str) -> Callable[[], AsyncIterator[None]]:
    @pytest_asyncio.fixture(loop_scope=loop_scope, name=f"_no_leaked_tasks_in_{loop_scope}_loop")
    async def check() -> AsyncIterator[None]:
        before = asyncio.all_tasks()
        yield
        leaked = await _tasks_still_running(before)
        if leaked:
            described = "; ".join(sorted(_describe(task) for task in leaked))
            for task in leaked:
                task.cancel()
            await asyncio.wait(leaked, timeout=LEAK_GRACE_SECONDS)
            pytest.fail(
                f"{len(leaked)} asyncio task(s) still running after the test and its fixtures: "
                + described,
                pytrace=False,
            )

    return check


async def _tasks_still_running(before: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    """Tasks started since ``before`` and still pending once a grace period has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEAK_GRACE_SECONDS
    current = asyncio.current_task()
    polls = 0
    while True:
        leaked = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
        if not leaked or loop.time() > deadline:
            return leaked
        polls += 1
        await asyncio.sleep(0 if polls <= 5 else 0.02)


def _describe(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    where = ""
    frame = getattr(coro, "cr_frame", None)
    if frame is not None:
        where = f" at {frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{task.get_name()} ({getattr(coro, '__qualname__', coro)!s}{where})"


for _scope in ("function", "class", "module", "package", "session"):
    globals()[f"_no_leaked_tasks_in_{_scope}_loop"] = _leak_check(_scope)

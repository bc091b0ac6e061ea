"""tests/conftest.py fails an async test that leaves asyncio tasks running; these tests run it
against small test modules (pytester), so the check cannot silently stop working."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

_TESTS = Path(__file__).parent


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with this suite's conftest and its pytest-asyncio configuration."""
    options = tomllib.loads((_TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]
    asyncio_options = {k: v for k, v in options["ini_options"].items() if k.startswith("asyncio_")}
    pytester.makeini(
        "[pytest]\n" + "".join(f"{key} = {value}\n" for key, value in asyncio_options.items())
    )
    pytester.makeconftest((_TESTS / "conftest.py").read_text())
    return pytester


def test_a_leaked_task_fails_the_test_with_its_name(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import asyncio

        async def tick_forever():
            while True:
                await asyncio.sleep(0.01)

        async def test_leaks():
            asyncio.create_task(tick_forever(), name="leaky-ticker")

        async def test_clean():
            await asyncio.sleep(0)

        def test_sync():
            pass
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks*",
            "*1 asyncio task(s) still running*leaky-ticker (tick_forever at *test_*.py:*)*",
        ]
    )


def test_tasks_stopped_by_fixtures_or_finishing_their_cancellation_are_no_leak(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio

        async def slow_to_stop():
            try:
                await asyncio.Event().wait()
            finally:
                for _ in range(3):
                    await asyncio.sleep(0.05)

        @pytest.fixture
        async def worker():
            task = asyncio.create_task(asyncio.Event().wait(), name="fixture-worker")
            yield task
            task.cancel()

        async def test_fixture_stops_its_task_at_teardown(worker):
            assert not worker.done()

        async def test_cancelled_task_still_finishing(request):
            task = asyncio.create_task(slow_to_stop(), name="slow-to-stop")
            await asyncio.sleep(0)
            task.cancel()
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_test_in_a_module_loop_is_checked_in_that_loop(suite: pytest.Pytester) -> None:
    """A test that declares its loop scope keeps it; tasks of the module's own fixtures, started
    before the test, are not the test's leak."""
    suite.makepyfile(
        """
        import asyncio
        import pytest
        import pytest_asyncio

        pytestmark = pytest.mark.asyncio(loop_scope="module")

        @pytest_asyncio.fixture(scope="module", loop_scope="module")
        async def module_worker():
            task = asyncio.create_task(asyncio.Event().wait(), name="module-worker")
            yield
            task.cancel()

        loops = []

        async def test_first(module_worker):
            loops.append(asyncio.get_running_loop())

        async def test_leaks(module_worker):
            loops.append(asyncio.get_running_loop())
            asyncio.create_task(asyncio.Event().wait(), name="module-loop-leak")

        async def test_same_loop(module_worker):
            assert asyncio.get_running_loop() is loops[0] is loops[1]
        """
    )
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaks*", "*module-loop-leak*"])
    assert "module-worker" not in result.stdout.str()

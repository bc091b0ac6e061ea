"""``reload [INTERVAL] [JITTER]``: CoreDNS's defaults and bounds, read into ``Hooks.reload``."""

from __future__ import annotations

import pytest

from kdns import config
from kdns.errors import CorefileError
from tests.support import seam


def settings(line: str) -> config.ReloadSettings | None:
    return seam.load(f". {{\n    {line}\n    whoami\n}}\n").hooks.reload


def test_without_reload_there_are_no_settings() -> None:
    assert seam.load(". {\n    whoami\n}\n").hooks.reload is None


@pytest.mark.parametrize(
    ("line", "interval", "jitter"),
    [("reload", 30, 15), ("reload 10s", 10, 5), ("reload 1m 20s", 60, 20), ("reload 4s 1s", 4, 1)],
)
def test_interval_and_jitter(line: str, interval: float, jitter: float) -> None:
    assert settings(line) == config.ReloadSettings(interval=interval, jitter=jitter)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("reload 1s", "interval value must be greater or equal to 2s"),
        ("reload 10s 500ms", "jitter value must be greater or equal to 1s"),
        ("reload 10s 6s", "jitter value must be smaller than interval / 2"),
        ("reload soon", "soon"),
        ("reload 10s 2s 1s", "Wrong argument count"),
    ],
)
def test_bad_values_name_their_line(line: str, reason: str) -> None:
    with pytest.raises(CorefileError, match=r"^plugin/reload: Corefile:2 - Error during parsing: "):
        settings(line)
    with pytest.raises(CorefileError) as err:
        settings(line)
    assert reason in str(err.value)


def test_a_loop_asks_the_process_to_stop_with_exit_code_1() -> None:
    process = config.Process()
    stopped: list[bool] = []
    process.on_stop = lambda: stopped.append(True)
    process.request_stop(1)
    process.request_stop(0)
    assert (process.exit_code, stopped) == (1, [True, True])

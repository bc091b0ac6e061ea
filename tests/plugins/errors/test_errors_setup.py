"""``errors { stacktrace; consolidate DURATION REGEXP [LEVEL] }``: rules read into the handler."""

from __future__ import annotations

import logging

import pytest

from kdns.errors import CorefileError
from kdns.plugins.errors.handler import Consolidation
from tests.support import seam


def rules(body: str) -> list[Consolidation]:
    loaded = seam.load(f". {{\n    {body}\n}}\n")
    return list(seam.chain_handler(loaded, "errors").rules)


def test_defaults_consolidate_nothing() -> None:
    assert rules("errors") == []


def test_consolidate_reads_period_pattern_and_level_defaulting_to_error() -> None:
    got = rules(
        "errors {\n        stacktrace\n"
        '        consolidate 5m ".* timeout$" warning\n'
        "        consolidate 30s ^x\n    }"
    )
    summary = [(r.period, r.pattern.pattern, r.level, r.text) for r in got]
    assert summary == [
        (300.0, ".* timeout$", logging.WARNING, "5m"),
        (30.0, "^x", logging.ERROR, "30s"),
    ]


@pytest.mark.parametrize(
    ("level", "value"),
    [
        ("warning", logging.WARNING),
        ("error", logging.ERROR),
        ("info", logging.INFO),
        ("debug", logging.DEBUG),
    ],
)
def test_every_level(level: str, value: int) -> None:
    (rule,) = rules(f"errors {{\n        consolidate 1m x {level}\n    }}")
    assert rule.level == value


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("errors x", 2, "Wrong argument count"),
        ("errors\n    errors", 3, "plugin 'errors' can only be used once per server block"),
        ("errors {\n        stacktrace 1\n    }", 3, "Wrong argument count"),
        ("errors {\n        consolidate 5m\n    }", 3, "Wrong argument count"),
        ("errors {\n        consolidate 5m x error y\n    }", 3, "Wrong argument count"),
        ("errors {\n        consolidate soon x\n    }", 3, 'invalid duration "soon"'),
        ("errors {\n        consolidate 5m (\n    }", 3, "invalid regexp '('"),
        ("errors {\n        consolidate 5m x fatal\n    }", 3, "unknown log level 'fatal'"),
        ("errors {\n        bogus\n    }", 3, "unknown property 'bogus'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    prefix = f"plugin/errors: Corefile:{line} - Error during parsing: "
    with pytest.raises(CorefileError) as err:
        rules(body)
    assert str(err.value).startswith(prefix)
    assert reason in str(err.value)

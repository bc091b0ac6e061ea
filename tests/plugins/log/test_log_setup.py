"""``log [NAMES...] [FORMAT] { class CLASSES... }``: rules read into the handler, errors with file:line."""

from __future__ import annotations

import pytest

from kdns.errors import CorefileError
from kdns.plugins.log.handler import COMBINED, COMMON, Rule
from tests.support import seam


def rules(body: str) -> list[Rule]:
    loaded = seam.load(f". {{\n    {body}\n}}\n")
    handler = seam.chain_handler(loaded, "log")
    return list(handler.rules)


def test_defaults_log_every_name_and_class_in_the_common_format() -> None:
    assert rules("log") == [Rule(zones=(".",), fmt=COMMON, classes=frozenset({"all"}))]


def test_names_are_lowercased_fqdns_and_a_format_is_the_last_argument() -> None:
    (rule,) = rules('log Example.ORG. a.net "{name} {rcode}"')
    assert rule.zones == ("example.org.", "a.net.")
    assert rule.fmt == "{name} {rcode}"


@pytest.mark.parametrize(
    ("fmt", "expanded"),
    [("{common}", COMMON), ("{combined}", COMBINED), ('"{combined} {>id}"', COMBINED + " {>id}")],
)
def test_named_formats_expand(fmt: str, expanded: str) -> None:
    (rule,) = rules(f"log example.org {fmt}")
    assert (rule.zones, rule.fmt) == (("example.org.",), expanded)


def test_class_option_and_several_lines_share_one_handler_in_order() -> None:
    got = rules(
        "log example.org\n    log {\n        class denial error\n        class success\n    }"
    )
    assert [r.zones for r in got] == [("example.org.",), (".",)]
    assert got[0].classes == frozenset({"all"})
    assert got[1].classes == frozenset({"denial", "error", "success"})
    loaded = seam.load(". {\n    log a.org\n    log b.org\n}\n")
    assert [name for name, _ in loaded.servers[0].factories] == ["log"]


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("log a..b", 2, "bad label in name 'a..b'"),
        ("log {\n        class bogus\n    }", 3, "unknown class 'bogus'"),
        ("log {\n        class\n    }", 3, "Wrong argument count"),
        ("log {\n        format x\n    }", 3, "unknown property 'format'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    prefix = f"plugin/log: Corefile:{line} - Error during parsing: "
    with pytest.raises(CorefileError) as err:
        rules(body)
    assert str(err.value).startswith(prefix)
    assert reason in str(err.value)

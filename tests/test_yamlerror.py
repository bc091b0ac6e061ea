"""``kdns.pkg.yamlerror``: the line a YAML syntax error is reported at."""

from __future__ import annotations

import pytest
import yaml

from kdns.pkg import yamlerror

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def error(text: str, loader: type = _Loader) -> yaml.MarkedYAMLError:
    with pytest.raises(yaml.MarkedYAMLError) as err:
        list(yaml.compose_all(text, Loader=loader))
    return err.value


@pytest.mark.parametrize("loader", [_Loader, yaml.SafeLoader])
@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: {c: 2\n", 2),  # unclosed: where it opened, not the end of the file
        ("a: 1\nb: {c: 2\n\n# a comment\n\n", 2),
        ("a: 1\nb: 'open\n", 2),
        ("a: [1,\n   2,\n   3\n", 1),
        ("a: 1\nb: c: d\ne: 2\n", 2),  # a problem inside the file: its own line
        ("a:\n  b: 1\n c: 2\n", 3),
    ],
)
def test_the_line_blamed(text: str, line: int, loader: type) -> None:
    err = error(text, loader)
    assert yamlerror.line(err, text) == line
    assert yamlerror.line(err, text.encode()) == line
    assert "\n" not in yamlerror.reason(err)


def test_an_end_of_file_problem_without_context_blames_the_last_line() -> None:
    text = "a: 1\nb: 2\n\n"
    mark = yaml.Mark("f", len(text), 3, 0, None, None)
    err = yaml.MarkedYAMLError(problem="unexpected end", problem_mark=mark)
    assert yamlerror.line(err, text) == 2
    assert yamlerror.line(yaml.MarkedYAMLError(problem="no mark"), text) is None

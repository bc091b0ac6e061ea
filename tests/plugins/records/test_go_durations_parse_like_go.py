"""``kdns.pkg.duration`` accepts what Go's time.ParseDuration accepts, with Go's error text."""

from __future__ import annotations

import pytest

from kdns.pkg import duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300ms", 0.3),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("1h0m30s", 3630.0),
        ("0", 0.0),
        ("-1m", -60.0),
        ("+5s", 5.0),
        (".5s", 0.5),
        ("5.s", 5.0),
        ("10us", 10e-6),
        ("10\u00b5s", 10e-6),
        ("10\u03bcs", 10e-6),
        ("250ns", 250e-9),
        ("1m1m", 120.0),
    ],
)
def test_valid_durations(text: str, seconds: float) -> None:
    assert duration.parse(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # A bare number is not a duration in Go (only "0" is), so neither is it here.
        ("300", 'time: missing unit in duration "300"'),
        ("1.5", 'time: missing unit in duration "1.5"'),
        ("", 'time: invalid duration ""'),
        ("-", 'time: invalid duration "-"'),
        ("s", 'time: invalid duration "s"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1 s", 'time: unknown unit " s" in duration "1 s"'),
        ("1h-2m", 'time: unknown unit "h-" in duration "1h-2m"'),
    ],
)
def test_invalid_durations(text: str, message: str) -> None:
    with pytest.raises(duration.DurationError) as err:
        duration.parse(text)
    assert str(err.value) == message


def test_duration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        duration.parse("soon")

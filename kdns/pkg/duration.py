"""Go's ``time.ParseDuration`` syntax, as CoreDNS's Corefile options use it.

``300ms``, ``1.5s``, ``2m``, ``1h30m`` and ``-1m`` parse; so does a bare ``0``. Any other
number without a unit (``300``) is an error, as in Go: Corefiles written for CoreDNS must mean
the same thing here. Units: ``ns``, ``us`` (``µs``, ``μs``), ``ms``, ``s``, ``m``, ``h``.
"""

from __future__ import annotations

import re

from kdns.errors import KdnsError

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek small letter mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# One "number unit" element: digits with an optional fraction (".5" and "5." are valid in Go),
# then the unit, which runs up to the next digit or dot.
_ELEMENT = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]*)")


class DurationError(KdnsError, ValueError):
    """Not a Go duration; the message is Go's (``time: invalid duration "x"``)."""


def parse(text: str) -> float:
    """Seconds in the Go duration ``text``.

    :raises DurationError: with Go's wording, e.g. ``time: missing unit in duration "300"``.
    """
    quoted = '"' + text + '"'
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0.0
    pos = 0
    while pos < len(rest):
        match = _ELEMENT.match(rest, pos)
        if match is None:
            raise DurationError(f"time: invalid duration {quoted}")
        number, unit = match.groups()
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        scale = _UNITS.get(unit)
        if scale is None:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * scale
        pos = match.end()
    return sign * total

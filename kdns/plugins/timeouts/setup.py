"""Parse ``timeouts { read D; write D; idle D; maxtcpqueries N }`` into listener settings.

There is no handler: the settings go to the block's TCP listeners (``kdns.server.tcp``).
A duration is a Go duration or a bare integer meaning seconds, from 1 second to 24 hours,
as CoreDNS's ``plugin/pkg/durations`` reads it.
"""

from __future__ import annotations

from kdns import config, corefile
from kdns.pkg import duration

SETTINGS = ("read", "write", "idle", "maxtcpqueries")
MIN_SECONDS = 1.0
MAX_SECONDS = 24 * 3600.0


def _seconds(option: corefile.Directive, text: str) -> float:
    try:
        seconds = float(int(text, 10)) if text.isdigit() else duration.parse(text)
    except duration.DurationError as err:
        raise option.error(str(err)) from None
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise option.error(
            f"timeout {option.name} of {text} needs to be between 1 second and 24 hours"
        )
    return seconds


def _count(option: corefile.Directive, text: str) -> int:
    try:
        count = int(text, 10)
    except ValueError:
        raise option.error(f"invalid value for maxtcpqueries: {text}") from None
    if count == 0 or count < -1:
        raise option.error(f"maxtcpqueries {text} needs to be -1 (unlimited) or a positive integer")
    return count


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    d.expect_args(0, 0)
    if not d.block:
        raise d.error("timeouts block with no timeouts specified")
    for option in d.block:
        if option.name not in SETTINGS:
            raise option.error(f"unknown option '{option.name}'")
        (text,) = option.expect_args(1, 1)
        if option.name == "maxtcpqueries":
            c.config.tcp_timeouts[option.name] = _count(option, text)
        else:
            c.config.tcp_timeouts[option.name] = _seconds(option, text)

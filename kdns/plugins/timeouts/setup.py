"""Parse ``timeouts { read D; write D; idle D }`` into the server block's listener settings.

There is no handler: the settings go to the block's TCP listeners (``kdns.server.tcp``).
A duration is a Go duration or a bare integer meaning seconds, from 1 second to 24 hours,
as CoreDNS's ``plugin/pkg/durations`` reads it.
"""

from __future__ import annotations

from kdns import config, corefile
from kdns.pkg import duration

SETTINGS = ("read", "write", "idle")
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


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    d.expect_args(0, 0)
    if not d.block:
        raise d.error("timeouts block with no timeouts specified")
    for option in d.block:
        if option.name not in SETTINGS:
            raise option.error(f"unknown option '{option.name}'")
        (text,) = option.expect_args(1, 1)
        c.config.tcp_timeouts[option.name] = _seconds(option, text)

from __future__ import annotations

import logging
import re

from kdns import config, corefile
from kdns.pkg import duration
from kdns.plugins.errors.handler import Consolidation, Errors

_LEVELS = {
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


def setup(d: corefile.Directive, c: config.Controller) -> None:
    d.expect_args(0, 0)
    c.once_per_block()
    rules: list[Consolidation] = []
    for option in d.block:
        if option.name == "stacktrace":
            option.expect_args(0, 0)
        elif option.name == "consolidate":
            args = option.expect_args(2, 3)
            try:
                period = duration.parse(args[0])
            except ValueError as err:
                raise option.error(str(err)) from None
            try:
                pattern = re.compile(args[1])
            except re.error as err:
                raise option.error(f"invalid regexp '{args[1]}': {err}") from None
            level = logging.ERROR
            if len(args) == 3:
                if args[2] not in _LEVELS:
                    raise option.error(f"unknown log level '{args[2]}'")
                level = _LEVELS[args[2]]
            rules.append(Consolidation(period=period, pattern=pattern, level=level, text=args[0]))
        else:
            raise option.unknown_property()
    c.add_plugin(lambda next: Errors(next, rules))

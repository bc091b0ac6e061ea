from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.local.handler import Local


def setup(d: corefile.Directive, c: config.Controller) -> None:
    d.expect_args(0, 0)
    prefix = True
    for option in d.block:
        if option.name != "localhost_prefix":
            raise option.unknown_property()
        value = option.expect_args(1, 1)[0].lower()
        if value not in ("on", "off"):
            raise option.error(f"localhost_prefix must be 'on' or 'off', not '{option.args[0]}'")
        prefix = value == "on"
    c.add_plugin(lambda next: Local(next, localhost_prefix=prefix))

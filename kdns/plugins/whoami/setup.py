from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.whoami.handler import Whoami


def setup(d: corefile.Directive, c: config.Controller) -> None:
    d.expect_args(0, 0)
    if d.block:
        raise d.arg_error()
    c.add_plugin(Whoami)

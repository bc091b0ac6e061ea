from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.any.handler import Any


def setup(d: corefile.Directive, c: config.Controller) -> None:
    d.expect_args(0, 0)
    d.no_block()
    c.add_plugin(Any)

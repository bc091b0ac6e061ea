from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.rrl.handler import RRL
from kdns.plugins.rrl.options import parse


def setup(d: corefile.Directive, c: config.Controller) -> None:
    """As coredns/rrl, only the first ``rrl`` of a block is read."""
    if "once:rrl" in c.config.directives:
        return
    c.config.directives.add("once:rrl")
    options = parse(d, c.zones)
    c.add_plugin(lambda next: RRL(next, options=options))

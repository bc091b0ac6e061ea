from __future__ import annotations

from kdns import __version__, config, corefile
from kdns.plugins.chaos.handler import Chaos


def setup(d: corefile.Directive, c: config.Controller) -> None:
    if d.block:
        raise d.arg_error()
    version = d.args[0] if d.args else f"kdns-{__version__}"
    authors = d.args[1:] if len(d.args) > 1 else ("kdns developers",)
    c.add_plugin(lambda next: Chaos(next, version=version, authors=tuple(authors)))

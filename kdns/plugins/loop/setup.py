from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.loop.handler import Loop
from kdns.plugins.loop.probe import Prober


def setup(d: corefile.Directive, c: config.Controller) -> None:
    d.expect_args(0, 0)
    d.no_block()
    c.once_per_block()
    hooks = c.hooks

    def stop() -> None:
        # Read when the loop is seen: the lifecycle sets ``hooks.process`` after set-up.
        hooks.process.request_stop(1)

    handler = Loop(c.zones[0], on_loop=stop)
    c.add_plugin(handler.wrap)
    prober = Prober(handler, c.config)
    c.on_startup(prober.start)
    c.on_cleanup(prober.stop)

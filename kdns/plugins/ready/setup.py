from __future__ import annotations

from kdns import config, corefile, http
from kdns.errors import ConfigError
from kdns.plugins.ready.handler import Ready

DEFAULT_ADDRESS = ":8181"


def setup(d: corefile.Directive, c: config.Controller) -> None:
    args = d.expect_args(0, 1)
    if d.block:
        raise d.block[0].unknown_property()
    address = args[0] if args else DEFAULT_ADDRESS
    try:
        http.split_address(address, 8181)
    except ConfigError as err:
        raise d.error(str(err)) from None

    def make() -> Ready:
        ready = Ready(address, c.hooks)
        c.on_startup(ready.start)
        c.on_cleanup(ready.stop)
        return ready

    c.shared(f"ready:{address}", make)

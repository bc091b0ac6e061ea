from __future__ import annotations

from kdns import config, corefile, http
from kdns.errors import ConfigError
from kdns.pkg import duration
from kdns.plugins.health.handler import Health

DEFAULT_ADDRESS = ":8080"


def setup(d: corefile.Directive, c: config.Controller) -> None:
    args = d.expect_args(0, 1)
    address = args[0] if args else DEFAULT_ADDRESS
    try:
        http.split_address(address, 8080)
    except ConfigError as err:
        raise d.error(str(err)) from None
    lameduck = 0.0
    for option in d.block:
        if option.name != "lameduck":
            raise option.unknown_property()
        (text,) = option.expect_args(1, 1)
        try:
            lameduck = duration.parse(text)
        except ValueError as err:
            raise option.error(
                f"unable to parse lameduck duration value: '{text}': {err}"
            ) from None
    health = c.shared(f"health:{address}", lambda: _new(c, address))
    health.lameduck = max(health.lameduck, lameduck)


def _new(c: config.Controller, address: str) -> Health:
    health = Health(address)
    c.on_startup(health.start)
    c.on_shutdown(health.enter_lameduck)
    c.on_cleanup(health.stop)
    return health

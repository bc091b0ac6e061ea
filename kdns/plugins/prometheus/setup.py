from __future__ import annotations

from kdns import config, corefile, http, metrics
from kdns.errors import ConfigError
from kdns.metrics import server_label
from kdns.plugins.prometheus.handler import Endpoint, Metrics

DEFAULT_ADDRESS = "localhost:9153"


def setup(d: corefile.Directive, c: config.Controller) -> None:
    args = d.expect_args(0, 1)
    if d.block:
        raise d.block[0].unknown_property()
    c.once_per_block()
    address = args[0] if args else DEFAULT_ADDRESS
    try:
        http.split_address(address, 9153)
    except ConfigError as err:
        raise d.error(str(err)) from None

    def make() -> Endpoint:
        endpoint = Endpoint(address)
        c.on_startup(endpoint.start)
        c.on_cleanup(endpoint.stop)
        return endpoint

    c.shared(f"prometheus:{address}", make)
    server = c.config

    async def enable() -> None:
        for host in server.listen or [""]:
            label = server_label(server.scheme, host, server.port)
            for zone in server.zones:
                for name, _ in server.factories:
                    metrics.PLUGIN_ENABLED.set((label, zone, "", name), 1)

    c.on_startup(enable)
    c.add_plugin(Metrics)

"""``loadbalance [round_robin] { prefer CIDR... }``, with CoreDNS's error wording."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from kdns.plugins.loadbalance.handler import LoadBalance
from kdns.plugins.loadbalance.options import Options
from kdns.plugins.loadbalance.plan import Network

if TYPE_CHECKING:
    from kdns import config, corefile, plugin

ROUND_ROBIN = "round_robin"
WEIGHTED = "weighted"


def parse(d: corefile.Directive) -> Options:
    """The options of one ``loadbalance`` directive; pure."""
    args = d.args
    if args:
        policy = args[0]
        if policy == WEIGHTED:
            raise d.error("the weighted policy is not supported by kdns; use round_robin")
        if policy != ROUND_ROBIN:
            raise d.error(f"unknown policy: {policy}")
        if len(args) > 1:
            raise d.error(f"unknown property for {policy}")
    prefer: list[Network] = []
    for sub in d.block:
        if sub.name != "prefer":
            raise sub.unknown_property()
        sub.no_block()
        for cidr in sub.expect_args(1):
            try:
                prefer.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError as err:
                raise sub.error(f'invalid CIDR "{cidr}": {err}') from None
    return Options(prefer=tuple(prefer))


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    opts = parse(d)

    def factory(next: plugin.Handler) -> LoadBalance:
        return LoadBalance(next, prefer=opts.prefer)

    c.add_plugin(factory)

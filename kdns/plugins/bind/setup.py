from __future__ import annotations

import ipaddress

from kdns import config, corefile
from kdns.pkg import interfaces


def _expand(d: corefile.Directive, items: tuple[str, ...]) -> list[str]:
    known = interfaces.names()
    out: list[str] = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_address(item)))
            continue
        except ValueError:
            pass
        if item not in known:
            raise d.error(f"not a valid IP address or interface name: {item}")
        found = interfaces.addresses(item)
        if not found:
            raise d.error(f"interface {item} has no addresses")
        out.extend(found)
    return out


def setup(d: corefile.Directive, c: config.Controller) -> None:
    if not d.args:
        raise d.arg_error()
    listen = _expand(d, d.args)
    excluded: list[str] = []
    for option in d.block:
        if option.name != "except":
            raise option.unknown_property()
        excluded.extend(_expand(option, option.expect_args(1)))
    for address in listen:
        if address not in c.config.listen and address not in excluded:
            c.config.listen.append(address)
    if not c.config.listen:
        raise d.error("all addresses are excluded")

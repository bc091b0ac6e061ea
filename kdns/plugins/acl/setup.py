"""Parse ``acl [ZONES...] { ACTION [type QTYPE...] [net SOURCE...] }`` as CoreDNS does.

Every ``acl`` line of a server block joins one handler, so that, as in CoreDNS (one ``acl``
plugin holding all the block's rules), an ``allow`` in an earlier line ends the walk for the
later ones. Networks are compiled here, once, never per query.
"""

from __future__ import annotations

import ipaddress

import dnslib

from kdns import config, corefile
from kdns.pkg import fall
from kdns.plugins.acl.handler import EVERYWHERE, Acl, Action, Networks, Policy, Rule

_SECTIONS = ("type", "net")


def setup(d: corefile.Directive, c: config.Controller) -> None:
    rule = parse(d, c.zones)
    key = f"acl:{id(c.config)}"
    fresh = key not in c.hooks.shared
    rules: list[Rule] = c.shared(key, list)
    rules.append(rule)
    if fresh:
        c.add_plugin(lambda next: Acl(next, rules))


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Rule:
    """One ``acl`` directive as a `Rule`; zones default to the server block's."""
    zones: list[str] = []
    for arg in d.args or block_zones:
        try:
            zones.extend(fall.normalize(arg))
        except ValueError as err:
            raise d.error(str(err)) from None
    return Rule(tuple(dict.fromkeys(zones)), tuple(_policy(o) for o in d.block))


def _policy(o: corefile.Directive) -> Policy:
    if o.block or o.has_block:
        raise o.arg_error()
    try:
        action = Action(o.name.lower())
    except ValueError:
        raise o.error(
            f"unexpected token '{o.name}'; expect 'allow', 'block', 'filter' or 'drop'"
        ) from None
    qtypes: set[int] = set()
    any_type = False
    sources: list[str] = []
    seen: set[str] = set()
    args = list(o.args)
    while args:
        section = args.pop(0)
        name = section.lower()
        if name not in _SECTIONS:
            raise o.error(f"unexpected token '{section}'; expect 'type | net'")
        tokens: list[str] = []
        while args and args[0].lower() not in _SECTIONS:
            tokens.append(args.pop(0))
        if not tokens:
            raise o.error(f"no token specified in '{name}' section")
        seen.add(name)
        if name == "type":
            for token in tokens:
                if token == "*":
                    any_type = True
                    continue
                qtype = dnslib.QTYPE.reverse.get(token)
                if qtype is None:
                    raise o.error(f"unexpected token '{token}'; expect legal QTYPE")
                qtypes.add(qtype)
        else:
            sources.extend(tokens)
    networks = EVERYWHERE if "net" not in seen else _networks(o, sources)
    return Policy(
        action=action,
        qtypes=None if any_type or "type" not in seen else frozenset(qtypes),
        networks=networks,
    )


def _networks(o: corefile.Directive, sources: list[str]) -> Networks:
    if "*" in sources:
        return EVERYWHERE
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for source in sources:
        text = source
        if "/" not in text:
            # A single address: CoreDNS appends /32 (or /128 for IPv6).
            text += "/128" if ":" in text else "/32"
        try:
            # strict=False as Go's net.ParseCIDR: 10.1.2.3/8 stands for 10.0.0.0/8.
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise o.error(f"illegal CIDR notation '{text}'") from None
    return Networks.of(nets)

from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.dns64 import mapping
from kdns.plugins.dns64.handler import DNS64

DEFAULT_PREFIX = "64:ff9b::/96"


def parse(d: corefile.Directive) -> tuple[str, bool, bool]:
    """The prefix text, ``translate_all`` and ``allow_ipv4`` of one ``dns64`` directive."""
    prefix = d.expect_args(0, 1)[0] if d.args else DEFAULT_PREFIX
    translate_all = allow_ipv4 = False
    for option in d.block:
        if option.name == "prefix":
            prefix = option.expect_args(1, 1)[0]
        elif option.name == "translate_all":
            option.expect_args(0, 0)
            translate_all = True
        elif option.name == "allow_ipv4":
            option.expect_args(0, 0)
            allow_ipv4 = True
        else:
            raise option.unknown_property()
    return prefix, translate_all, allow_ipv4


def setup(d: corefile.Directive, c: config.Controller) -> None:
    prefix_text, translate_all, allow_ipv4 = parse(d)
    try:
        prefix = mapping.parse_prefix(prefix_text)
    except ValueError as err:
        raise d.error(str(err)) from None
    c.add_plugin(
        lambda next: DNS64(next, prefix=prefix, translate_all=translate_all, allow_ipv4=allow_ipv4)
    )

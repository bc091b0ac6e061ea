from __future__ import annotations

from kdns import config, corefile, wire
from kdns.plugins.log.handler import CLASSES, COMBINED, COMMON, Log, Rule


def _is_format(arg: str) -> bool:
    return "{" in arg


def setup(d: corefile.Directive, c: config.Controller) -> None:
    args = list(d.args)
    fmt = COMMON
    if args and _is_format(args[-1]):
        fmt = args.pop()
    fmt = fmt.replace("{common}", COMMON).replace("{combined}", COMBINED)
    names = args or ["."]
    zones = []
    for name in names:
        try:
            wire.text_to_name(name)
        except ValueError as err:
            raise d.error(str(err)) from None
        zones.append(name.lower().rstrip(".") + "." if name != "." else ".")
    classes: set[str] = set()
    for option in d.block:
        if option.name != "class":
            raise option.unknown_property()
        for cls in option.expect_args(1):
            if cls not in CLASSES:
                raise option.error(f"unknown class '{cls}'")
            classes.add(cls)
    rule = Rule(zones=tuple(zones), fmt=fmt, classes=frozenset(classes or {"all"}))
    existing = c.shared(f"log:{id(c.config)}", list)
    existing.append(rule)
    if len(existing) == 1:
        c.add_plugin(lambda next: Log(next, existing))

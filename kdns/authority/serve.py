"""Serving zones read from files: the handler in the chain, and re-reading the files.

*records* and *file* differ in how a file becomes zones; everything after that is here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdns.authority import answers, zonedata
from kdns.authority.handler import Authority
from kdns.authority.reload import Parse, Watcher
from kdns.pkg import duration, fall

if TYPE_CHECKING:
    from kdns import config, corefile, plugin


def reload_interval(sub: corefile.Directive) -> float:
    """``reload DURATION`` (records and file): seconds between checks of the files, 0 never."""
    (text,) = sub.expect_args(1, 1)
    if sub.block:
        raise sub.arg_error()
    try:
        interval = duration.parse(text)
    except duration.DurationError as err:
        raise sub.error(f"invalid reload interval '{text}': {err}") from None
    if interval < 0:
        raise sub.error(f"invalid reload interval '{text}': must not be negative")
    return interval


def serve(
    c: config.Controller,
    zones: list[zonedata.Zone],
    sources: list[zonedata.Source],
    *,
    reload: float,
    fallthrough: fall.Fall,
    handler: type[Authority],
    parse: Parse,
) -> None:
    """Serve ``zones`` read from ``sources`` through a ``handler`` in the chain, reading the
    files again every ``reload`` seconds (0: never) with ``parse``; *records* and *file* both
    serve their zones so."""

    def build(zones: list[zonedata.Zone]) -> answers.Table:
        return answers.Table(zones, fall=fallthrough)

    table = build(zones)
    watcher = None
    if reload > 0:
        watcher = Watcher(
            sources=sources, interval=reload, build=build, parse=parse, plugin=c.directive.name
        )
        c.on_startup(watcher.start)
        c.on_cleanup(watcher.stop)

    def factory(next: plugin.Handler) -> Authority:
        served = handler(next, table)
        if watcher is not None:
            watcher.subscribe(served.install)
        return served

    c.add_plugin(factory)

"""``file DBFILE [ZONES...] { reload DURATION; reload_by_mtime; fallthrough [ZONES...]; upstream }``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kdns.authority import zonedata
from kdns.authority.serve import reload_interval, serve
from kdns.errors import CorefileError
from kdns.pkg import fall
from kdns.plugins.file import zonefile
from kdns.plugins.file.handler import File
from kdns.plugins.file.options import DEFAULT_RELOAD, Options

if TYPE_CHECKING:
    from kdns import config, corefile


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Options:
    """The options of one ``file`` directive; pure (no file is touched)."""
    args = d.expect_args(1)
    path = Path(d.file).parent / args[0]
    zones = block_zones
    if len(args) > 1:
        try:
            zones = tuple(dict.fromkeys(z for arg in args[1:] for z in fall.normalize(arg)))
        except ValueError as err:
            raise d.error(str(err)) from None
    reload = DEFAULT_RELOAD
    through = fall.ZERO
    for sub in d.block:
        if sub.name == "reload":
            reload = reload_interval(sub)
        elif sub.name == "reload_by_mtime":
            sub.expect_args(0, 0)
        elif sub.name == "fallthrough":
            through = fall.from_directive(sub)
        elif sub.name == "upstream":
            pass  # accepted and ignored, as CoreDNS does since 1.7
        else:
            raise sub.unknown_property()
    return Options(path=path, zones=zones, reload=reload, fallthrough=through)


def zones_of(opts: Options, sources: list[zonedata.Source]) -> list[zonedata.Zone]:
    """The file read once for each zone, that zone as its origin."""
    (source,) = sources
    return [zonefile.parse(source, origin) for origin in opts.zones]


def setup(d: corefile.Directive, c: config.Controller) -> None:
    opts = parse(d, c.zones)
    try:
        source = zonedata.read(opts.path)
    except zonedata.LoadError as err:
        raise d.error(f"{err.file}: {err.reason}") from None
    try:
        zones = zones_of(opts, [source])
    except zonedata.LoadError as err:
        if err.line is None:
            raise d.error(f"{err.file}: {err.reason}") from None
        raise CorefileError(err.reason, file=err.file, line=err.line, plugin="file") from None

    serve(
        c,
        zones,
        [source],
        reload=opts.reload,
        fallthrough=opts.fallthrough,
        handler=File,
        parse=lambda sources: zones_of(opts, sources),
    )

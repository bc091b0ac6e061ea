"""``records FILE... { reload DURATION; fallthrough [ZONES...] }``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kdns import wire
from kdns.authority import zonedata
from kdns.authority.serve import reload_interval, serve
from kdns.errors import CorefileError
from kdns.pkg import dnsname, fall
from kdns.plugins.records import yamlfile
from kdns.plugins.records.handler import Records
from kdns.plugins.records.options import DEFAULT_RELOAD, Options

if TYPE_CHECKING:
    from kdns import config, corefile

log = logging.getLogger("kdns.plugin.records")


def parse(d: corefile.Directive) -> Options:
    """The options of one ``records`` directive; pure (no file is touched)."""
    args = d.expect_args(1)
    base = Path(d.file).parent
    files = tuple(dict.fromkeys(base / arg for arg in args))
    reload = DEFAULT_RELOAD
    through = fall.ZERO
    seen: set[str] = set()
    for sub in d.block:
        if sub.name in seen:
            raise sub.error(f"'{sub.name}' given twice")
        seen.add(sub.name)
        if sub.name == "reload":
            reload = reload_interval(sub)
        elif sub.name == "fallthrough":
            through = fall.from_directive(sub)
        else:
            raise sub.unknown_property()
    return Options(files=files, reload=reload, fallthrough=through)


def load(d: corefile.Directive, opts: Options) -> list[zonedata.Source]:
    """Read the files; a missing one is reported at the Corefile line naming it."""
    sources = []
    for path in opts.files:
        try:
            sources.append(zonedata.read(path))
        except zonedata.LoadError as err:
            raise d.error(f"{err.file}: {err.reason}") from None
    return sources


def setup(d: corefile.Directive, c: config.Controller) -> None:
    opts = parse(d)
    sources = load(d, opts)
    try:
        zones = yamlfile.build(sources)
    except zonedata.LoadError as err:
        if err.line is None:
            raise d.error(f"{err.file}: {err.reason}") from None
        raise CorefileError(err.reason, file=err.file, line=err.line, plugin="records") from None

    claim(c, zones)
    warn_uncovered(c.zones, zones)
    serve(
        c,
        zones,
        sources,
        reload=opts.reload,
        fallthrough=opts.fallthrough,
        handler=Records,
        parse=yamlfile.build,
    )


def claim(c: config.Controller, zones: list[zonedata.Zone]) -> None:
    """Refuse a zone another ``records`` line of the same server block already serves."""
    claimed: dict[bytes, zonedata.Zone] = c.shared(f"records:{id(c.config)}", dict)
    for zone in zones:
        other = claimed.get(zone.origin)
        if other is not None:
            raise CorefileError(
                f"zone '{zone.name}' is already defined at {other.file}:{other.line}",
                file=zone.file,
                line=zone.line,
                plugin="records",
            )
    claimed.update((zone.origin, zone) for zone in zones)


def warn_uncovered(keys: tuple[str, ...], zones: list[zonedata.Zone]) -> None:
    """Warn about a zone whose names the block's keys do not send here (they are REFUSED)."""
    origins = [wire.text_to_name(key.lower()) for key in keys]
    for zone in zones:
        if any(dnsname.within(zone.origin, key) for key in origins):
            continue
        inside = [k for k, o in zip(keys, origins, strict=True) if dnsname.within(o, zone.origin)]
        which = f"its names outside {', '.join(inside)}" if inside else "its names"
        log.warning(
            "plugin/records: %s:%d: zone '%s' is not covered by this server block's zones (%s): "
            "queries for %s do not reach this plugin",
            zone.file,
            zone.line,
            zone.name,
            ", ".join(keys),
            which,
        )

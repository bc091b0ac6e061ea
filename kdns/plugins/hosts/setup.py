"""``hosts [FILE [ZONES...]] { [INLINE...]; ttl SECONDS; no_reverse; reload DURATION;
fallthrough [ZONES...] }``, with CoreDNS's defaults and error wording."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kdns import wire
from kdns.pkg import duration, fall
from kdns.plugins.hosts import hostsfile
from kdns.plugins.hosts.handler import Hosts
from kdns.plugins.hosts.options import DEFAULT_FILE, DEFAULT_RELOAD, DEFAULT_TTL, Options
from kdns.plugins.hosts.source import Source, Watcher

if TYPE_CHECKING:
    from kdns import config, corefile, plugin

log = logging.getLogger("kdns.plugin.hosts")


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Options:
    """The options of one ``hosts`` directive; pure (the file is not touched)."""
    args = d.args
    path = DEFAULT_FILE
    if args:
        path = Path(d.file).parent / args[0]
    zones = block_zones
    if len(args) > 1:
        found: list[str] = []
        for arg in args[1:]:
            try:
                found.extend(fall.normalize(arg))
            except ValueError as err:
                raise d.error(str(err)) from None
        zones = tuple(dict.fromkeys(found))
    inline: list[str] = []
    ttl = DEFAULT_TTL
    reverse = True
    reload = DEFAULT_RELOAD
    through: fall.Fall | None = None
    for sub in d.block:
        name = sub.name
        if name == "fallthrough":
            through = fall.from_directive(sub)
        elif name == "no_reverse":
            sub.expect_args(0, 0)
            sub.no_block()
            reverse = False
        elif name == "ttl":
            sub.no_block()
            if not sub.args:
                raise sub.error("ttl needs a time in second")
            try:
                ttl = int(sub.args[0], 10)
            except ValueError:
                raise sub.error("ttl needs a number of second") from None
            if not 0 < ttl <= 65535 or len(sub.args) > 1:
                raise sub.error("ttl provided is invalid")
        elif name == "reload":
            sub.no_block()
            if len(sub.args) != 1:
                raise sub.error("reload needs a duration (zero seconds to disable)")
            try:
                reload = duration.parse(sub.args[0])
            except duration.DurationError:
                raise sub.error(f"invalid duration for reload '{sub.args[0]}'") from None
            if reload < 0:
                raise sub.error(f"invalid negative duration for reload '{sub.args[0]}'")
        elif through is None and hostsfile.parse_address(name) is not None:
            # An inline hosts line. CoreDNS takes any unknown word for one (and ignores it
            # if it is no address); kdns only takes lines that start with an address.
            sub.no_block()
            if not sub.args:
                raise sub.arg_error()
            inline.append(" ".join((name, *sub.args)))
        else:
            raise sub.unknown_property()
    return Options(
        path=path,
        zones=zones,
        inline=tuple(inline),
        ttl=ttl,
        reverse=reverse,
        reload=reload,
        fallthrough=through or fall.ZERO,
    )


def source(opts: Options) -> Source:
    """The entries of ``opts``, read once; a missing file is a warning, as in CoreDNS."""
    src = Source(
        path=opts.path,
        inline=list(opts.inline),
        zones=zone_set(opts.zones),
        reverse=opts.reverse,
        ttl=opts.ttl,
    )
    if not opts.path.exists():
        log.warning("plugin/hosts: File does not exist: %s", opts.path)
    elif opts.path.is_dir():
        log.warning("plugin/hosts: Hosts file %r is a directory", str(opts.path))
    else:
        src.load()
    return src


def zone_set(zones: tuple[str, ...]) -> frozenset[bytes]:
    return frozenset(wire.text_to_name(z) for z in zones)


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    opts = parse(d, c.zones)
    src = source(opts)
    if opts.reload > 0:
        watcher = Watcher(src, opts.reload)
        c.on_startup(watcher.start)
        c.on_cleanup(watcher.stop)
    sources: list[Source] = c.shared("hosts.sources", list)
    sources.append(src)

    def factory(next: plugin.Handler) -> Hosts:
        handler = Hosts(next, src.table, zones=zone_set(opts.zones), fall=opts.fallthrough)
        src.subscribe(handler.install)
        return handler

    c.add_plugin(factory)

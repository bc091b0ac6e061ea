"""``cache [TTL] [ZONES...] { success ...; denial ...; prefetch ...; serve_stale ...; servfail ...;
disable ...; keepttl }``, with CoreDNS's defaults and error wording."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kdns.pkg import duration, fall
from kdns.plugins.cache import handler, options
from kdns.plugins.cache.options import DENIAL, SUCCESS, Options

if TYPE_CHECKING:
    from kdns import config, corefile, plugin


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Options:
    """The options of one ``cache`` directive; pure. ``block_zones`` are the server block's."""
    args = list(d.args)
    ttl: int | None = None
    if args and _is_int(args[0]):
        ttl = int(args[0])
        if ttl <= 0:
            raise d.error(f"cache TTL can not be zero or negative: {ttl}")
        args = args[1:]
    opts = Options(zones=_zones(d, tuple(args)) if args else block_zones)
    if ttl is not None:
        opts = replace(opts, success_ttl=ttl, denial_ttl=ttl)
    for sub in d.block:
        opts = _option(sub, opts)
    return opts


def _option(sub: corefile.Directive, opts: Options) -> Options:
    if sub.block:
        raise sub.arg_error()
    name = sub.name
    if name in (SUCCESS, DENIAL):
        args = sub.expect_args(1, 3)
        capacity = _int(sub, args[0], "capacity")
        if capacity < 0:
            raise sub.error(f"cache capacity can not be negative: {capacity}")
        if name == SUCCESS:
            ttl, min_ttl = opts.success_ttl, opts.success_min_ttl
        else:
            ttl, min_ttl = opts.denial_ttl, opts.denial_min_ttl
        if len(args) > 1:
            ttl = _int(sub, args[1], "TTL")
            if ttl <= 0:
                raise sub.error(f"cache TTL can not be zero or negative: {ttl}")
        if len(args) > 2:
            min_ttl = _int(sub, args[2], "min TTL")
            if min_ttl < 0:
                raise sub.error(f"cache min TTL can not be negative: {min_ttl}")
        if name == SUCCESS:
            return replace(
                opts, success_capacity=capacity, success_ttl=ttl, success_min_ttl=min_ttl
            )
        return replace(opts, denial_capacity=capacity, denial_ttl=ttl, denial_min_ttl=min_ttl)
    if name == "prefetch":
        args = sub.expect_args(1, 3)
        amount = _int(sub, args[0], "prefetch amount")
        if amount < 0:
            raise sub.error(f"prefetch amount should be positive: {amount}")
        window = _duration(sub, args[1]) if len(args) > 1 else options.PREFETCH_WINDOW
        percentage = options.PREFETCH_PERCENTAGE
        if len(args) > 2:
            pct = args[2]
            if not pct.endswith("%"):
                raise sub.error(f"last character of percentage should be `%`, but is: '{pct[-1]}'")
            percentage = _int(sub, pct[:-1], "percentage")
            if not 10 <= percentage <= 90:
                raise sub.error(f"percentage should fall in range [10, 90]: {percentage}")
        return replace(
            opts, prefetch=amount, prefetch_window=window, prefetch_percentage=percentage
        )
    if name == "serve_stale":
        args = sub.expect_args(0, 2)
        stale = options.STALE_DEFAULT
        if args:
            stale = _duration(sub, args[0])
            if stale < 0:
                raise sub.error("invalid negative duration for serve_stale")
        verify = False
        if len(args) > 1:
            mode = args[1].lower()
            if mode not in ("immediate", "verify"):
                raise sub.error(f"invalid value for serve_stale refresh mode: {mode}")
            verify = mode == "verify"
        return replace(opts, stale=stale, verify=verify)
    if name == "servfail":
        (text,) = sub.expect_args(1, 1)
        ttl_s = _duration(sub, text)
        if ttl_s < 0:
            raise sub.error("invalid negative ttl for servfail")
        if ttl_s > options.MAX_SERVFAIL:
            raise sub.error("caching SERVFAIL responses over 5 minutes is not permitted")
        return replace(opts, servfail_ttl=ttl_s)
    if name == "disable":
        args = sub.expect_args(1)
        kind = args[0]
        if kind not in (SUCCESS, DENIAL):
            raise sub.error(f'cache type for disable must be "{SUCCESS}" or "{DENIAL}"')
        zones = _zones(sub, args[1:]) if len(args) > 1 else (".",)
        if kind == SUCCESS:
            return replace(opts, disable_success=zones)
        return replace(opts, disable_denial=zones)
    if name == "keepttl":
        sub.expect_args(0, 0)
        return replace(opts, keepttl=True)
    raise sub.unknown_property()


def _is_int(text: str) -> bool:
    try:
        int(text, 10)
    except ValueError:
        return False
    return True


def _int(d: corefile.Directive, text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise d.error(f"invalid {what} '{text}': not an integer") from None


def _duration(d: corefile.Directive, text: str) -> float:
    try:
        return duration.parse(text)
    except duration.DurationError as err:
        raise d.error(str(err)) from None


def _zones(d: corefile.Directive, args: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    zones: list[str] = []
    for arg in args:
        try:
            zones.extend(fall.normalize(arg))
        except ValueError as err:
            raise d.error(str(err)) from None
    return tuple(dict.fromkeys(zones))


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    opts = parse(d, c.zones)
    background = handler.Background()
    c.on_cleanup(background.cancel)
    registry: list[handler.Cache] = c.shared("cache.handlers", list)

    def factory(next: plugin.Handler) -> handler.Cache:
        cache = handler.Cache(next, opts, block_zones=c.zones, background=background)
        registry.append(cache)
        return cache

    c.add_plugin(factory)

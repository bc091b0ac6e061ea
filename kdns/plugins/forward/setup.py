"""Parse ``forward FROM TO... { ... }`` into `Options`, build the upstreams, register the handler.

Defaults and messages follow CoreDNS's ``plugin/forward/setup.go``: at most 15 upstreams, expire
10s, max_fails 2, health checks every 0.5s, policy random, read timeout 2s.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from dataclasses import replace

from kdns import config, corefile, plugin, wire
from kdns.pkg import duration, fall, resolvconf
from kdns.pkg.upstream import transport
from kdns.pkg.upstream.proxy import Proxy
from kdns.plugins.forward import metrics as forward_metrics
from kdns.plugins.forward import policy
from kdns.plugins.forward.handler import Forward
from kdns.plugins.forward.options import DNS_PORT, MAX_UPSTREAMS, TLS_PORT, Options, Upstream

log = logging.getLogger("kdns.plugin.forward")

_RCODES = {name: code for code, name in wire.RCODE_NAMES.items()}


class _Factory:
    """One ``forward`` line's handler factory, which knows the zone it forwards."""

    def __init__(self, options: Options, proxies: list[Proxy]) -> None:
        self.options = options
        self.proxies = proxies

    def __call__(self, next: plugin.Handler) -> Forward:
        options = self.options
        return Forward(next, options, self.proxies, policy.named(options.policy))


def setup(d: corefile.Directive, c: config.Controller) -> None:
    """Several ``forward`` lines in a block each forward their own zone, with their own
    upstreams, health checks and options; a query goes to the line with the most specific zone
    holding it (the others pass it on)."""
    options = parse(d)
    proxies = build_proxies(options, d)
    forward_metrics.export()
    factory = _Factory(options, proxies)
    c.add_plugin(
        factory,
        before=lambda other: (
            isinstance(other, _Factory)
            and _labels(other.options.from_zone) < _labels(options.from_zone)
        ),
    )

    async def close() -> None:
        for proxy in proxies:
            proxy.close()
        for proxy in proxies:
            await proxy.wait_closed()

    c.on_cleanup(close)


def _labels(zone: str) -> int:
    return 0 if zone == "." else zone.rstrip(".").count(".") + 1


def parse(d: corefile.Directive) -> Options:
    """The `Options` of one ``forward`` directive; errors carry its file and line."""
    args = d.expect_args(2)
    from_zone = _zone(d, args[0])
    upstreams: list[Upstream] = []
    for to in args[1:]:
        upstreams.extend(_upstreams(d, to))
    if not upstreams:
        raise d.arg_error()
    if len(upstreams) > MAX_UPSTREAMS:
        raise d.error(f"more than {MAX_UPSTREAMS} TOs configured: {len(upstreams)}")
    options = Options(from_zone=from_zone, upstreams=tuple(upstreams))
    for option in d.block:
        options = _option(option, options)
    return options


def _zone(d: corefile.Directive, text: str) -> str:
    try:
        zones = fall.normalize(text)
    except ValueError as err:
        raise d.error(f"unable to normalize '{text}': {err}") from None
    if len(zones) > 1:
        log.warning(
            "plugin/forward: Unsupported CIDR notation: '%s' expands to multiple zones. "
            "Using only '%s'.",
            text,
            zones[0],
        )
    return zones[0]


def _upstreams(d: corefile.Directive, to: str) -> list[Upstream]:
    """The upstreams one **TO** stands for: an address, or every nameserver of a file."""
    scheme, sep, rest = to.partition("://")
    if not sep:
        scheme, rest = "dns", to
    if scheme not in ("dns", "tls"):
        raise d.error(f"'{scheme}' is not supported as a destination protocol in forward: {to}")
    if not rest:
        raise d.error(f'invalid address: "{to}"')
    tls = scheme == "tls"
    address = _host_port(rest)
    if address is None:
        if not os.path.isfile(rest):
            raise d.error(f'not an IP address or file: "{rest}"')
        try:
            conf = resolvconf.load(rest)
        except (OSError, ValueError) as err:
            raise d.error(f"{rest}: {err}") from None
        if not conf.nameservers:
            raise d.error(f"no nameservers found in {rest}")
        # As in CoreDNS, a file's nameservers are plain DNS on port 53, whatever the scheme.
        return [Upstream(host, resolvconf.PORT) for host in conf.nameservers]
    host, port = address
    if port is None:
        port = TLS_PORT if tls else DNS_PORT
    if not 0 < port < 65536:
        raise d.error(f'invalid port in "{to}"')
    return [Upstream(host, port, tls)]


def _host_port(text: str) -> tuple[str, int | None] | None:
    """``(IP, port or None)`` for ``IP``, ``IP:port``, ``[IPv6]:port``; None if not an address."""
    if _is_ip(text):
        return text, None
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if sep and _is_ip(host) and port.isdigit():
            return host, int(port)
        if text.endswith("]") and _is_ip(text[1:-1]):
            return text[1:-1], None
        return None
    host, sep, port = text.rpartition(":")
    if sep and ":" not in host and _is_ip(host) and port.isdigit():
        return host, int(port)
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _duration(option: corefile.Directive, text: str, *, negative_ok: bool = False) -> float:
    try:
        value = duration.parse(text)
    except ValueError as err:
        raise option.error(str(err)) from None
    if value < 0 and not negative_ok:
        raise option.error(f"{option.name} can't be negative: {text}")
    return value


def _count(option: corefile.Directive, text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise option.error(f'strconv.Atoi: parsing "{text}": invalid syntax') from None
    if value < 0:
        raise option.error(f"{option.name} can't be negative: {value}")
    return value


def _option(option: corefile.Directive, options: Options) -> Options:
    """``options`` with one line of the block applied."""
    name = option.name
    option.no_block()
    if name == "except":
        zones = list(options.ignored)
        for arg in option.expect_args(1):
            try:
                zones.extend(fall.normalize(arg))
            except ValueError as err:
                raise option.error(str(err)) from None
        return replace(options, ignored=tuple(zones))
    if name == "force_tcp":
        option.expect_args(0, 0)
        return replace(options, force_tcp=True)
    if name == "prefer_udp":
        option.expect_args(0, 0)
        return replace(options, prefer_udp=True)
    if name == "failfast_all_unhealthy_upstreams":
        option.expect_args(0, 0)
        return replace(options, failfast_all_unhealthy_upstreams=True)
    if name == "expire":
        (text,) = option.expect_args(1, 1)
        return replace(options, expire=_duration(option, text))
    if name == "read_timeout":
        (text,) = option.expect_args(1, 1)
        value = _duration(option, text)
        if value <= 0:
            raise option.error(f"read_timeout must be positive: {text}")
        return replace(options, read_timeout=value)
    if name == "max_fails":
        (text,) = option.expect_args(1, 1)
        return replace(options, max_fails=_count(option, text))
    if name == "max_concurrent":
        (text,) = option.expect_args(1, 1)
        return replace(options, max_concurrent=_count(option, text))
    if name == "health_check":
        return _health_check(option, options)
    if name == "policy":
        (text,) = option.expect_args(1, 1)
        if text not in policy.NAMES:
            raise option.error(f"unknown policy '{text}'")
        return replace(options, policy=text)
    if name == "tls":
        return replace(options, tls=option.expect_args(0, 3))
    if name == "tls_servername":
        (text,) = option.expect_args(1, 1)
        return replace(options, tls_servername=text)
    if name == "next":
        codes = set()
        for text in option.expect_args(1):
            code = _RCODES.get(text.upper())
            if code is None:
                raise option.error(f"'{text}' is not a valid rcode")
            codes.add(code)
        return replace(options, next_rcodes=frozenset(codes))
    raise option.unknown_property()


def _health_check(option: corefile.Directive, options: Options) -> Options:
    args = list(option.expect_args(1))
    options = replace(options, health_check=_duration(option, args.pop(0)))
    while args:
        word = args.pop(0)
        if word == "no_rec":
            options = replace(options, health_check_rd=False)
        elif word == "domain":
            if not args:
                raise option.arg_error()
            domain = args.pop(0)
            try:
                (zone,) = fall.normalize(domain)
            except ValueError:
                raise option.error(f"health_check: invalid domain name {domain}") from None
            options = replace(options, health_check_domain=zone)
        else:
            raise option.error(f"health_check: unknown option {word}")
    return options


def tls_context(args: tuple[str, ...]) -> ssl.SSLContext:
    """A client context from ``tls`` arguments, as CoreDNS reads them.

    No argument: system CAs. ``CA``: that CA file. ``CERT KEY``: client certificate, system CAs.
    ``CERT KEY CA``: client certificate and that CA file.

    :raises OSError, ssl.SSLError: if a file cannot be read.
    """
    cafile = args[0] if len(args) == 1 else args[2] if len(args) == 3 else None
    context = ssl.create_default_context(cafile=cafile)
    if len(args) >= 2:
        context.load_cert_chain(args[0], args[1])
    return context


def build_proxies(options: Options, d: corefile.Directive) -> list[Proxy]:
    """One `Proxy` per upstream; the TLS context is shared, as CoreDNS shares its tls.Config."""
    context: ssl.SSLContext | None = None
    if any(u.tls for u in options.upstreams):
        try:
            context = tls_context(options.tls or ())
        except (OSError, ssl.SSLError, ValueError) as err:
            raise d.error(f"tls: {err}") from None
    return [
        Proxy(
            transport.Address(u.host, u.port),
            tls=context if u.tls else None,
            server_name=options.tls_servername,
            expire=options.expire,
            health_options=options.health,
        )
        for u in options.upstreams
    ]

"""Parse ``kubernetes [ZONES...] { ... }`` into cache options and synthesis settings."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from typing import TypedDict

from kdns import config, corefile, errors, plugin
from kdns.cluster import kubernetes as records
from kdns.cluster import reverse
from kdns.kube import client as kclient
from kdns.kube import controller as kcontroller
from kdns.pkg import duration, fall, interfaces
from kdns.plugins.kubernetes import programming
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.options import STARTUP_TIMEOUT, Options

log = logging.getLogger("kdns.plugin.kubernetes")

_PODS: tuple[kcontroller.PodsMode, ...] = ("disabled", "insecure", "verified")
#: Accepted for compatibility; kdns does not rate-limit its API requests.
_IGNORED = ("apiserver_qps", "apiserver_burst", "apiserver_max_inflight")


def _zones(d: corefile.Directive, block_zones: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for arg in d.args or block_zones:
        try:
            out.extend(fall.normalize(arg))
        except ValueError as err:
            raise d.error(str(err)) from None
    if not any(not reverse.is_reverse(z) for z in out):
        raise d.error("at least one zone must be a forward (non-reverse) zone")
    return tuple(dict.fromkeys(out))


def _local_addresses(c: config.Controller) -> tuple[str, ...]:
    """kdns's own non-loopback addresses (for the apex NS): bind's, else every interface's."""
    found: list[str] = list(c.config.listen)
    if not found:
        for name in sorted(interfaces.names()):
            found.extend(interfaces.addresses(name))
    out = []
    for text in found:
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if not ip.is_loopback and not ip.is_unspecified and not ip.is_link_local:
            out.append(str(ip))
    return tuple(dict.fromkeys(out))


class _KubeFields(TypedDict, total=False):
    """The ``KubeOptions`` fields the directive sets."""

    endpoint: str
    tls_cert: str
    tls_key: str
    tls_ca: str
    kubeconfig: str
    context: str | None
    namespaces: frozenset[str]
    labels: str
    namespace_labels: str
    pods_mode: kcontroller.PodsMode
    noendpoints: bool


class _SettingsFields(TypedDict, total=False):
    """The ``Settings`` fields the directive sets (zones and addresses come from elsewhere)."""

    pods: str
    endpoint_pod_names: bool
    ttl: int
    noendpoints: bool
    ignore_empty_service: bool


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Options:
    """Read ``kubernetes [ZONES...] { ... }`` in a block serving ``block_zones``; errors carry the
    offending line. Pure: kdns's own addresses (``settings.local_addresses``) are added by
    `setup`."""
    zones = _zones(d, block_zones)
    kube: _KubeFields = {}
    settings: _SettingsFields = {}
    falls = fall.ZERO
    startup_timeout = STARTUP_TIMEOUT
    selectors: dict[str, corefile.Directive] = {}
    for o in d.block:
        name = o.name
        if name == "endpoint":
            kube["endpoint"] = o.expect_args(1)[0]
        elif name == "tls":
            cert, key, ca = o.expect_args(3, 3)
            kube.update({"tls_cert": cert, "tls_key": key, "tls_ca": ca})
        elif name == "kubeconfig":
            args = o.expect_args(1, 2)
            kube["kubeconfig"] = args[0]
            kube["context"] = args[1] if len(args) == 2 else None
        elif name == "namespaces":
            kube["namespaces"] = frozenset(o.expect_args(1))
            selectors[name] = o
        elif name == "labels":
            kube["labels"] = " ".join(o.expect_args(1))
        elif name == "namespace_labels":
            kube["namespace_labels"] = " ".join(o.expect_args(1))
            selectors[name] = o
        elif name == "pods":
            (mode,) = o.expect_args(1, 1)
            if mode not in _PODS:
                raise o.error(f"invalid value for pods: {mode}, must be one of: {', '.join(_PODS)}")
            kube["pods_mode"] = mode
            settings["pods"] = mode
        elif name == "endpoint_pod_names":
            o.expect_args(0, 0)
            settings["endpoint_pod_names"] = True
        elif name == "ttl":
            (text,) = o.expect_args(1, 1)
            if not text.isdigit() or not 0 <= int(text) <= 3600:
                raise o.error(f"ttl must be in range [0, 3600]: {text}")
            settings["ttl"] = int(text)
        elif name == "noendpoints":
            o.expect_args(0, 0)
            kube["noendpoints"] = True
            settings["noendpoints"] = True
        elif name == "fallthrough":
            falls = fall.from_directive(o)
        elif name == "ignore":
            (what,) = o.expect_args(1, 1)
            if what != "empty_service":
                raise o.error(f"unable to parse ignore value: '{what}'")
            settings["ignore_empty_service"] = True
        elif name == "startup_timeout":
            (text,) = o.expect_args(1, 1)
            try:
                startup_timeout = duration.parse(text)
            except ValueError as err:
                raise o.error(str(err)) from None
        elif name in _IGNORED:
            o.expect_args(1, 1)
        else:
            raise o.unknown_property()
    if len(selectors) == 2:
        # Reported on whichever of the two lines comes second.
        last = max(selectors.values(), key=lambda o: o.line)
        raise last.error("namespaces and namespace_labels cannot both be set")
    return Options(
        kube=kcontroller.KubeOptions(**kube),
        settings=records.Settings(
            zones=zones,
            **settings,
        ),
        fallthrough=falls,
        startup_timeout=startup_timeout,
    )


class _Caches:
    """The Kubernetes caches of one loaded configuration, one per distinct set of watch options.

    A server block with keys on several ports is set up once per port, and several blocks may
    watch the same objects: they share one cache (one set of watches) instead of each listing
    and watching the cluster again. Readiness waits for every cache.
    """

    def __init__(self) -> None:
        self.controllers: dict[kcontroller.KubeOptions, kcontroller.Controller] = {}

    def ready(self) -> bool:
        return all(ctl.ready() for ctl in self.controllers.values())


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    options = parse(d, c.zones)
    settings = dataclasses.replace(options.settings, local_addresses=_local_addresses(c))
    options = dataclasses.replace(options, settings=settings)
    try:
        # Files are checked now, so -validate and a reload see them; credentials that need
        # running something (exec plugins) or the in-cluster environment load at start.
        kclient.check_files(options.kube.source)
    except kclient.ConfigLoadError as err:
        raise _source_line(d).error(str(err)) from None
    caches = c.shared("kubernetes", _Caches)
    ctl = caches.controllers.get(options.kube)
    if ctl is None:
        ctl = caches.controllers[options.kube] = kcontroller.Controller(options.kube)
        c.add_source(ctl)
        ctl.store.on_trigger_time = programming.recorder(ctl.store)
        c.on_startup(_starter(ctl, options.startup_timeout, _source_line(d)))
        c.on_cleanup(ctl.stop)
    synthesizer = records.Synthesizer(ctl.store, options.settings)
    handlers: list[Kubernetes] = []

    def factory(next: plugin.Handler) -> Kubernetes:
        handler = Kubernetes(
            next,
            synthesizer=synthesizer,
            fall=options.fallthrough,
            options=options,
        )
        handlers.append(handler)
        return handler

    async def close() -> None:
        for handler in handlers:
            handler.close()

    c.add_plugin(factory)
    c.register_readiness("kubernetes", caches.ready)
    c.on_cleanup(close)


def _source_line(d: corefile.Directive) -> corefile.Directive:
    """The line that names where the API connection settings come from (blamed for them)."""
    for wanted in ("kubeconfig", "endpoint", "tls"):
        for o in d.block:
            if o.name == wanted:
                return o
    return d


def _starter(
    ctl: kcontroller.Controller, startup_timeout: float, source: corefile.Directive
) -> config.Hook:
    async def start() -> None:
        try:
            await ctl.start()
        except kclient.ConfigLoadError as err:
            raise errors.CorefileError(
                str(err), file=source.file, line=source.line, plugin="kubernetes"
            ) from None
        if not await ctl.wait_ready(startup_timeout):
            log.warning(
                "plugin/kubernetes: starting server with unsynced Kubernetes API "
                "(cluster names get SERVFAIL until synced)"
            )

    return start

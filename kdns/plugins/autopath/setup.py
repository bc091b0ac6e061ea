"""``autopath [ZONE...] RESOLV-CONF``; RESOLV-CONF is a file or ``@kubernetes``."""

from __future__ import annotations

from pathlib import Path

from kdns import config, corefile, plugin
from kdns.cluster.kubernetes import Synthesizing
from kdns.pkg import fall
from kdns.plugins.autopath.handler import Autopath, SearchFn
from kdns.request import Request


def search_domains(path: str) -> list[str]:
    """The ``search`` domains of a resolv.conf file, absolute and lower-case."""
    domains: list[str] = []
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in ("search", "domain"):
            domains = [d.lower().rstrip(".") + "." for d in fields[1:]]
    return domains


def kubernetes_search(kube: Synthesizing, node_search: list[str]) -> SearchFn:
    """CoreDNS's kubernetes AutoPath: the client pod's namespace first, then the zone, the node's."""
    zone_of = kube.zone_of
    store = kube.synth.store

    def search(req: Request) -> list[str] | None:
        zone = zone_of(req.name)
        if zone is None or "pods" not in store.watched:
            return None
        pods = store.pods_by_ip(req.remote[0])
        if not pods:
            return None
        namespace = pods[-1].namespace
        if zone == ".":
            path = [f"{namespace}.svc.", "svc.", "."]
        else:
            path = [f"{namespace}.svc.{zone}", f"svc.{zone}", zone]
        return [*path, *node_search, ""]

    return search


def _find(handler: plugin.Handler, name: str) -> object | None:
    seen = 0
    current: object = handler
    while current is not None and seen < 64:
        if getattr(current, "name", None) == name:
            return current
        current = getattr(current, "next", None)
        seen += 1
    return None


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    args = d.expect_args(1)
    if d.block:
        raise d.block[0].unknown_property()
    resolv = args[-1]
    zones: list[str] = []
    for arg in args[:-1] or c.zones:
        try:
            zones.extend(fall.normalize(arg))
        except ValueError as err:
            raise d.error(str(err)) from None
    if resolv.startswith("@"):
        target = resolv[1:]
        if target != "kubernetes":
            raise d.error(f"unknown plugin for autopath: {target}")
        if "kubernetes" not in c.config.directives:
            raise d.error(
                "autopath @kubernetes needs the kubernetes plugin in the same server block"
            )
        try:
            node_search = search_domains("/etc/resolv.conf")
        except OSError:
            node_search = []

        def factory(next: plugin.Handler) -> plugin.Handler:
            kube = _find(next, "kubernetes")
            if not isinstance(kube, Synthesizing):
                raise d.error("autopath @kubernetes: no kubernetes plugin after autopath")
            return Autopath(next, zones=tuple(zones), search=kubernetes_search(kube, node_search))

        c.add_plugin(factory)
        return
    try:
        static = [*search_domains(resolv), ""]
    except OSError as err:
        raise d.error(f"failed to parse {resolv!r}: {err}") from None

    def fixed(req: Request) -> list[str]:
        return static

    c.add_plugin(lambda next: Autopath(next, zones=tuple(zones), search=fixed))

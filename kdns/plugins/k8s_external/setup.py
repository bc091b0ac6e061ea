"""``k8s_external [ZONES...] { apex APEX; ttl TTL; headless; fallthrough [ZONES...] }``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdns.cluster.kubernetes import Synthesizing
from kdns.pkg import fall
from kdns.plugins.k8s_external.handler import K8sExternal
from kdns.plugins.k8s_external.lookup import Lookup

if TYPE_CHECKING:
    from kdns import config, corefile, plugin

DEFAULT_APEX = "dns"
DEFAULT_TTL = 5
MAX_TTL = 3600


def setup(d: corefile.Directive, c: config.Controller) -> None:
    zones: list[str] = []
    for arg in d.args or c.zones:
        try:
            zones.extend(fall.normalize(arg))
        except ValueError as err:
            raise d.error(str(err)) from None
    apex = DEFAULT_APEX
    ttl = DEFAULT_TTL
    headless = False
    through = fall.ZERO
    for option in d.block:
        if option.name == "apex":
            apex = option.expect_args(1, 1)[0].lower().strip(".")
            if not apex or "." in apex:
                raise option.error(f"invalid apex label '{option.args[0]}'")
        elif option.name == "ttl":
            text = option.expect_args(1, 1)[0]
            if not text.isdigit() or int(text) > MAX_TTL:
                raise option.error(f"ttl must be in range [0, {MAX_TTL}]: {text}")
            ttl = int(text)
        elif option.name == "headless":
            option.expect_args(0, 0)
            headless = True
        elif option.name == "fallthrough":
            through = fall.from_directive(option)
        else:
            raise option.unknown_property()
    if "kubernetes" not in c.config.directives:
        raise d.error("kubernetes plugin not loaded: k8s_external needs it in the same block")

    def factory(next: plugin.Handler) -> K8sExternal:
        kube = _find(next, "kubernetes")
        if not isinstance(kube, Synthesizing):
            raise d.error("kubernetes plugin not loaded: k8s_external needs it after itself")
        synth = kube.synth
        find = Lookup(synth.store, synth.settings, headless=headless)
        return K8sExternal(
            next, zones=tuple(dict.fromkeys(zones)), apex=apex, ttl=ttl, fall=through, find=find
        )

    c.add_plugin(factory)


def _find(handler: object, name: str) -> object | None:
    for _ in range(64):
        if handler is None:
            return None
        if getattr(handler, "name", None) == name:
            return handler
        handler = getattr(handler, "next", None)
    return None

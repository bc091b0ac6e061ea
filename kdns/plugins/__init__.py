"""The plugin registry: which directives exist and the fixed order they run in.

``ORDER`` plays the part of CoreDNS's ``plugin.cfg``: plugins run in this
order whatever the order of lines in the Corefile, and each plugin sees every
query the plugins before it pass on. Adding a plugin means adding a package
``kdns.plugins.<name>`` with a ``setup`` module, and its name here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kdns.config import Controller
    from kdns.corefile import Directive

SetupFn = Callable[["Directive", "Controller"], None]

#: CoreDNS's plugin.cfg order, restricted to what kdns implements. ``records``
#: (kdns's standalone YAML zones) sits where CoreDNS has ``file``.
ORDER: tuple[str, ...] = (
    "tls",
    "timeouts",
    "reload",
    "nsid",
    "bufsize",
    "bind",
    "ready",
    "health",
    "prometheus",
    "errors",
    "log",
    "local",
    "dns64",
    "rrl",
    "acl",
    "any",
    "chaos",
    "loadbalance",
    "cache",
    "rewrite",
    "header",
    "autopath",
    "minimal",
    "template",
    "hosts",
    "k8s_external",
    "kubernetes",
    "records",
    "file",
    "loop",
    "forward",
    "whoami",
)

#: CoreDNS plugins kdns does not implement; named in the error so the reader knows why.
COREDNS_ONLY = frozenset(
    (
        "root",
        "metadata",
        "geoip",
        "cancel",
        "multisocket",
        "debug",
        "trace",
        "pprof",
        "dnstap",
        "tsig",
        "dnssec",
        "transfer",
        "route53",
        "azure",
        "clouddns",
        "auto",
        "secondary",
        "etcd",
        "grpc",
        "erratic",
        "on",
        "sign",
        "view",
        "nomad",
    )
)

_INDEX = {name: i for i, name in enumerate(ORDER)}


def available() -> tuple[str, ...]:
    """Directives whose package is present, in chain order."""
    out = []
    for name in ORDER:
        try:
            importlib.import_module(f"kdns.plugins.{name}.setup")
        except ModuleNotFoundError:
            continue
        out.append(name)
    return tuple(out)


def rank(name: str) -> int:
    return _INDEX[name]


def setup_function(name: str) -> SetupFn | None:
    """The ``setup`` of directive ``name``, or None if kdns has no such plugin."""
    if name not in _INDEX:
        return None
    try:
        module = importlib.import_module(f"kdns.plugins.{name}.setup")
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith(f"kdns.plugins.{name}"):
            return None
        raise
    fn: SetupFn = module.setup
    return fn

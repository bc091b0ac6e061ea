"""Corefile.example is kubeadm's Corefile, commented; the ConfigMap carries the same text."""

from __future__ import annotations

import re

from kdns import config, corefile, plugins
from kdns.migrate import translate
from tests.support import manifests


def without_comments(text: str) -> str:
    lines = (re.sub(r"\s*#.*", "", line).rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line) + "\n"


def test_the_configmap_holds_corefile_example() -> None:
    cm = manifests.one("ConfigMap", "kdns")
    assert set(cm["data"]) == {"Corefile"}
    assert cm["data"]["Corefile"] == manifests.COREFILE_EXAMPLE.read_text()


def test_it_is_kubeadms_corefile_with_comments() -> None:
    """The same Corefile as ``kdns migrate-kube-dns`` writes for an empty kube-dns ConfigMap."""
    assert without_comments(manifests.COREFILE_EXAMPLE.read_text()) == translate({})[0]


def test_every_directive_line_is_commented() -> None:
    lines = manifests.COREFILE_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        code = line.split("#")[0].strip()
        if code and code != "}":
            assert lines[i - 1].strip().startswith("#") or "#" in line, f"line {i + 1}: {line}"


def test_it_parses_and_loads_once_kdns_has_every_plugin() -> None:
    (block,) = corefile.parse(manifests.COREFILE_EXAMPLE.read_text(), filename="Corefile")
    assert [(k.zone, k.port) for k in block.keys] == [(".", 53)]
    names = [d.name for d in block.directives]
    assert names == [
        "errors",
        "health",
        "ready",
        "kubernetes",
        "prometheus",
        "forward",
        "cache",
        "loop",
        "reload",
        "loadbalance",
    ]
    missing = [n for n in names if plugins.setup_function(n) is None]
    if not missing:
        # Setup records options and hooks only: no listener, no API server is needed.
        config.load([block])

"""Read deploy/, Corefile.example and the Containerfile for the deploy tests."""

from __future__ import annotations

import copy
import functools
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COREFILE_EXAMPLE = ROOT / "Corefile.example"
CONTAINERFILE = ROOT / "Containerfile"
#: A recent Kubernetes release whose schema the manifests must satisfy.
KUBERNETES_VERSION = "1.33.0"

Manifest = dict[str, Any]


def files() -> list[Path]:
    """Every manifest in deploy/, kustomization.yaml excepted."""
    return sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def read(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization() -> Manifest:
    doc: Manifest = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return doc


def all_manifests() -> list[Manifest]:
    return [doc for path in files() for doc in read(path)]


def one(kind: str, name: str | None = None) -> Manifest:
    found = [
        m
        for m in all_manifests()
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in deploy/"
    return found[0]


def container() -> Manifest:
    (c,) = one("Deployment", "kdns")["spec"]["template"]["spec"]["containers"]
    result: Manifest = c
    return result


def kustomize_command() -> list[str] | None:
    """``kustomize build`` or ``kubectl kustomize``, whichever is installed."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def build_with_kustomize(command: list[str]) -> list[Manifest]:
    """The objects ``command deploy/`` prints (built once per test run)."""
    return copy.deepcopy(_build(tuple(command)))


@functools.cache
def _build(command: tuple[str, ...]) -> list[Manifest]:
    proc = subprocess.run(
        [*command, str(DEPLOY)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"{shlex.join(command)} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc is not None]


def containerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Containerfile, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in CONTAINERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out

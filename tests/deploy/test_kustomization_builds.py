"""kustomization.yaml lists every manifest and builds: with kustomize when there is one, and
always by hand (resources, namespace, image, the clusterIP patch) so the check runs anywhere."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

import kdns
from tests.support import manifests

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace"}


def build_by_hand() -> list[manifests.Manifest]:
    """What ``kustomize build deploy/`` does with this kustomization's features."""
    k = manifests.kustomization()
    known = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
    assert set(k) <= known, f"kustomization uses {set(k) - known}: teach build_by_hand"
    out = []
    for name in k["resources"]:
        for doc in manifests.read(manifests.DEPLOY / name):
            doc = copy.deepcopy(doc)
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]
            out.append(doc)
    for image in k.get("images", []):
        for doc in out:
            if doc["kind"] != "Deployment":
                continue
            for c in doc["spec"]["template"]["spec"]["containers"]:
                if c["image"] == image["name"]:
                    c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    for patch in k.get("patches", []):
        target = patch["target"]
        matched = [
            d
            for d in out
            if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]
        ]
        assert len(matched) == 1, f"patch target {target} matches {len(matched)} objects"
        for op in yaml.safe_load(patch["patch"]):
            _apply(matched[0], op)
    return out


def _apply(doc: dict[str, Any], op: dict[str, Any]) -> None:
    assert op["op"] in ("add", "replace"), op
    *parents, last = op["path"].strip("/").split("/")
    node = doc
    for part in parents:
        node = node[part]
    if op["op"] == "replace":
        assert last in node, f"replace of a missing {op['path']}"
    node[last] = op["value"]


def key(doc: manifests.Manifest) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def test_every_manifest_is_listed_once() -> None:
    listed = manifests.kustomization()["resources"]
    assert sorted(listed) == [p.name for p in manifests.files()]
    assert len(set(listed)) == len(listed)


def test_the_namespace_is_kube_system() -> None:
    assert manifests.kustomization()["namespace"] == "kube-system"


def test_the_hand_build_has_the_cluster_ip_namespace_and_image() -> None:
    built = {key(d): d for d in build_by_hand()}
    assert built[("Service", "kube-dns")]["spec"]["clusterIP"] == "10.96.0.10"
    for (kind, _), doc in built.items():
        if kind not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == "kube-system"
    (c,) = built[("Deployment", "kdns")]["spec"]["template"]["spec"]["containers"]
    assert c["image"] == f"kdns:{kdns.__version__}"  # the tag follows the package version


def test_kustomize_builds_the_same_objects() -> None:
    command = manifests.kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed; the hand build stands in")
    real = {key(d): d for d in manifests.build_with_kustomize(command)}
    by_hand = {key(d): d for d in build_by_hand()}
    assert real == by_hand

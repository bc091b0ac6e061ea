"""Every manifest parses, is one object of a known kind, and validates (strict) offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import manifests

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate (the test extra) is not installed"
)

EXPECTED = {
    "serviceaccount.yaml": ("v1", "ServiceAccount", "kdns"),
    "clusterrole.yaml": ("rbac.authorization.k8s.io/v1", "ClusterRole", "system:kdns"),
    "clusterrolebinding.yaml": (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "system:kdns",
    ),
    "configmap.yaml": ("v1", "ConfigMap", "kdns"),
    "deployment.yaml": ("apps/v1", "Deployment", "kdns"),
    "service.yaml": ("v1", "Service", "kube-dns"),
    "poddisruptionbudget.yaml": ("policy/v1", "PodDisruptionBudget", "kdns"),
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}


def test_deploy_holds_exactly_the_expected_files() -> None:
    assert [p.name for p in manifests.files()] == sorted(EXPECTED)


@pytest.mark.parametrize("path", manifests.files(), ids=lambda p: p.name)
def test_each_file_is_one_valid_object(path: Path) -> None:
    (doc,) = manifests.read(path)
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == EXPECTED[path.name]
    if doc["kind"] in CLUSTER_SCOPED:
        assert "namespace" not in doc["metadata"]
    else:
        assert doc["metadata"]["namespace"] == "kube-system"
    kubernetes_validate.validate(doc, manifests.KUBERNETES_VERSION, strict=True)


def test_a_typo_would_be_caught() -> None:
    """The validation is strict: an unknown field fails (so the test above means something)."""
    doc = manifests.one("Deployment", "kdns")
    doc["spec"]["template"]["spec"]["containers"][0]["securityContexts"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, manifests.KUBERNETES_VERSION, strict=True)


def test_the_kustomize_build_validates_too() -> None:
    command = manifests.kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    for doc in manifests.build_with_kustomize(command):
        kubernetes_validate.validate(doc, manifests.KUBERNETES_VERSION, strict=True)

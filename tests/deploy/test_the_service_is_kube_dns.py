"""The Service keeps kube-dns's name, label, ports and address; the PDB keeps one pod up."""

from __future__ import annotations

from tests.support import manifests


def test_name_labels_annotations() -> None:
    svc = manifests.one("Service", "kube-dns")
    meta = svc["metadata"]
    assert meta["namespace"] == "kube-system"
    assert meta["labels"]["k8s-app"] == "kube-dns"
    assert meta["labels"]["kubernetes.io/name"] == "kdns"
    assert meta["annotations"] == {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}


def test_it_selects_every_cluster_dns_pod() -> None:
    svc = manifests.one("Service", "kube-dns")
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    labels = manifests.one("Deployment", "kdns")["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()


def test_ports() -> None:
    ports = manifests.one("Service", "kube-dns")["spec"]["ports"]
    assert [(p["name"], p["port"], p["protocol"], p["targetPort"]) for p in ports] == [
        ("dns", 53, "UDP", 53),
        ("dns-tcp", 53, "TCP", 53),
        ("metrics", 9153, "TCP", 9153),
    ]


def test_the_cluster_ip_lives_in_kustomization_only() -> None:
    svc = manifests.one("Service", "kube-dns")
    assert "clusterIP" not in svc["spec"]
    (patch,) = [p for p in manifests.kustomization()["patches"] if p["target"]["kind"] == "Service"]
    assert patch["target"]["name"] == "kube-dns"
    assert "value: 10.96.0.10" in patch["patch"]


def test_the_disruption_budget_covers_the_kdns_pods() -> None:
    pdb = manifests.one("PodDisruptionBudget", "kdns")
    spec = pdb["spec"]
    assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable") == 1
    labels = manifests.one("Deployment", "kdns")["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert spec["selector"]["matchLabels"].get("app.kubernetes.io/name") == "kdns"

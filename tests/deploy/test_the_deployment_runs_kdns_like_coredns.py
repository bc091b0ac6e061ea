"""The kdns Deployment: kubeadm's CoreDNS shape, locked down, with the flags kdns accepts."""

from __future__ import annotations

from kdns import cli
from tests.support import manifests


def deployment() -> manifests.Manifest:
    return manifests.one("Deployment", "kdns")


def pod() -> manifests.Manifest:
    spec: manifests.Manifest = deployment()["spec"]["template"]["spec"]
    return spec


def test_labels_replicas_and_selector() -> None:
    d = deployment()
    assert d["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert d["spec"]["replicas"] == 2
    selector = d["spec"]["selector"]["matchLabels"]
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert selector["k8s-app"] == "kube-dns"
    assert selector.items() <= labels.items()
    # A selector of its own, so that it never adopts a coredns Deployment's pods.
    assert selector.get("app.kubernetes.io/name") == "kdns"
    assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 1


def test_the_args_are_flags_kdns_accepts() -> None:
    args = manifests.container()["args"]
    assert args == ["-conf", "/etc/kdns/Corefile"]
    opts = cli.parse_args(args)
    assert opts.conf == "/etc/kdns/Corefile"
    assert not (opts.help or opts.version or opts.plugins)


def test_ports() -> None:
    ports = {(p["name"], p["containerPort"], p["protocol"]) for p in manifests.container()["ports"]}
    assert ports == {("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")}


def test_probes_are_coredns_s() -> None:
    c = manifests.container()
    live = c["livenessProbe"]
    assert live["httpGet"] == {"path": "/health", "port": 8080, "scheme": "HTTP"}
    assert (live["initialDelaySeconds"], live["timeoutSeconds"], live["failureThreshold"]) == (
        60,
        5,
        5,
    )
    assert live.get("successThreshold", 1) == 1
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8181, "scheme": "HTTP"}


def test_the_probe_ports_are_where_the_corefile_serves_health_ready_and_metrics() -> None:
    from kdns import corefile
    from kdns.plugins.health import setup as health_setup
    from kdns.plugins.ready import setup as ready_setup

    (block,) = corefile.parse(manifests.COREFILE_EXAMPLE.read_text())
    args = {d.name: d.args for d in block.directives}
    # No address on health and ready: their defaults, which the probes use.
    assert args["health"] == () and health_setup.DEFAULT_ADDRESS == ":8080"
    assert args["ready"] == () and ready_setup.DEFAULT_ADDRESS == ":8181"
    assert args["prometheus"] == (":9153",)
    assert block.keys[0].port == 53


def test_security_context() -> None:
    sc = manifests.container()["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65532
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not sc.get("privileged", False)
    assert "securityContext" not in pod() or "runAsUser" not in pod()["securityContext"]


def test_resources_are_coredns_s() -> None:
    assert manifests.container()["resources"] == {
        "requests": {"cpu": "100m", "memory": "70Mi"},
        "limits": {"memory": "170Mi"},
    }


def test_scheduling() -> None:
    spec = pod()
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["dnsPolicy"] == "Default"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    tolerations = spec["tolerations"]
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in tolerations
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in tolerations
    (term,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchExpressions"] == [
        {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}
    ]
    assert "hostNetwork" not in spec


def test_volumes_config_at_etc_kdns_and_a_writable_tmp() -> None:
    spec = pod()
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in manifests.container()["volumeMounts"]}
    config = volumes[mounts["/etc/kdns"]["name"]]
    assert config["configMap"]["name"] == "kdns"
    assert {"key": "Corefile", "path": "Corefile"} in config["configMap"]["items"]
    assert mounts["/etc/kdns"]["readOnly"] is True
    assert "subPath" not in mounts["/etc/kdns"]  # subPath mounts never see ConfigMap updates
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert set(mounts) == {"/etc/kdns", "/tmp"}


def test_environment() -> None:
    env = {e["name"]: e["value"] for e in manifests.container()["env"]}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env.get("TMPDIR", "/tmp") == "/tmp"


def test_the_image_is_set_in_one_place() -> None:
    assert manifests.container()["image"] == "kdns"
    (image,) = manifests.kustomization()["images"]
    assert image["name"] == "kdns"

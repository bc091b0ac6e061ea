"""``kubernetes [ZONES...] { ... }`` from Corefile text: every option, and errors with their line."""

from __future__ import annotations

import textwrap

import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from kdns.kube import client as kclient
from kdns.kube import controller, store
from kdns.pkg import fall
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.options import Options


@pytest.fixture(autouse=True)
def no_credential_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """These Corefiles name kubeconfigs and TLS files that do not exist: only parsing is under
    test here (tests/operations/test_startup_errors_name_their_cause.py checks the files)."""
    monkeypatch.setattr(kclient, "check_files", lambda source: None)


def load(text: str) -> config.Loaded:
    return config.load(corefile.parse(textwrap.dedent(text)), default_port=1053)


def kubernetes(text: str) -> Kubernetes:
    current: object = load(text).servers[0].handler
    for _ in range(32):
        if isinstance(current, Kubernetes):
            return current
        current = getattr(current, "next", None)
    raise AssertionError("no kubernetes handler in the chain")


def options(text: str) -> Options:
    found = kubernetes(text).options
    assert found is not None
    return found


def test_defaults() -> None:
    o = options("cluster.local {\n    kubernetes\n}\n")
    assert o.settings.zones == ("cluster.local.",)
    assert o.settings.ttl == 5
    assert o.settings.pods == "disabled"
    assert not o.settings.endpoint_pod_names
    assert not o.settings.ignore_empty_service
    assert not o.settings.noendpoints
    assert o.fallthrough == fall.ZERO
    assert o.startup_timeout == 5.0
    assert o.kube == controller.KubeOptions()
    # Watches Services, EndpointSlices, Namespaces; not Pods.
    assert [r.plural for r in o.kube.watched()] == ["services", "endpointslices", "namespaces"]


def test_zones_default_to_the_server_block_and_reverse_cidrs_expand() -> None:
    o = options(".:1053 {\n    kubernetes\n}\n")
    assert o.settings.zones == (".",)
    o = options("cluster.local 10.0.0.0/8 {\n    kubernetes\n}\n")
    assert o.settings.zones == ("cluster.local.", "10.in-addr.arpa.")
    o = options(". {\n    kubernetes Cluster.Local. 10.96.0.0/12 fd00::/8 ip6.arpa\n}\n")
    assert o.settings.zones[0] == "cluster.local."
    assert "96.10.in-addr.arpa." in o.settings.zones
    assert "111.10.in-addr.arpa." in o.settings.zones
    assert "f.ip6.arpa." not in o.settings.zones  # fd00::/8 is two nibbles: d.f.ip6.arpa
    assert "d.f.ip6.arpa." in o.settings.zones
    assert o.settings.primary == "cluster.local."


def test_every_option() -> None:
    o = options(
        """
        . {
            kubernetes cluster.local in-addr.arpa ip6.arpa {
                endpoint https://10.0.0.1:6443 https://10.0.0.2:6443
                tls cert.pem key.pem ca.pem
                kubeconfig /etc/kdns/kubeconfig prod
                namespaces kube-system default
                labels app=web,tier in (fe, be)
                pods verified
                endpoint_pod_names
                ttl 30
                noendpoints
                fallthrough in-addr.arpa ip6.arpa
                ignore empty_service
                startup_timeout 1m30s
                apiserver_qps 50
                apiserver_burst 100
                apiserver_max_inflight 20
            }
        }
        """
    )
    assert o.kube.endpoint == "https://10.0.0.1:6443"  # only the first is used
    assert (o.kube.tls_cert, o.kube.tls_key, o.kube.tls_ca) == ("cert.pem", "key.pem", "ca.pem")
    assert (o.kube.kubeconfig, o.kube.context) == ("/etc/kdns/kubeconfig", "prod")
    assert o.kube.namespaces == frozenset({"kube-system", "default"})
    assert o.kube.labels == "app=web,tier in (fe, be)"
    assert o.kube.pods_mode == "verified"
    assert o.kube.noendpoints
    assert [r.plural for r in o.kube.watched()] == ["services", "namespaces", "pods"]
    assert o.kube.params(next(r for r in o.kube.watched() if r.plural == "services")) == {
        "labelSelector": "app=web,tier in (fe, be)"
    }
    s = o.settings
    assert s.zones == ("cluster.local.", "in-addr.arpa.", "ip6.arpa.")
    assert (s.pods, s.endpoint_pod_names, s.ttl, s.noendpoints) == ("verified", True, 30, True)
    assert s.ignore_empty_service
    assert o.fallthrough.zones == ("in-addr.arpa.", "ip6.arpa.")
    assert o.startup_timeout == 90.0


def test_namespace_labels_and_pods_insecure() -> None:
    o = options(
        """
        cluster.local {
            kubernetes {
                namespace_labels istio-injection=enabled
                pods insecure
                fallthrough
                kubeconfig kube.yaml
            }
        }
        """
    )
    assert o.kube.namespace_labels == "istio-injection=enabled"
    assert o.kube.context is None
    assert o.settings.pods == "insecure"
    assert [r.plural for r in o.kube.watched()] == ["services", "endpointslices", "namespaces"]
    ns = next(r for r in o.kube.watched() if r.plural == "namespaces")
    assert o.kube.params(ns) == {"labelSelector": "istio-injection=enabled"}
    assert o.fallthrough == fall.ROOT


@pytest.mark.parametrize("ttl", ["0", "3600"])
def test_ttl_bounds_are_accepted(ttl: str) -> None:
    assert options(
        f"cluster.local {{\n    kubernetes {{\n        ttl {ttl}\n    }}\n}}\n"
    ).settings.ttl == int(ttl)


def test_nameserver_addresses_come_from_bind() -> None:
    o = options("cluster.local {\n    bind 192.0.2.53 127.0.0.1 ::1\n    kubernetes\n}\n")
    assert o.settings.local_addresses == ("192.0.2.53",)
    o = options("cluster.local {\n    bind 127.0.0.1\n    kubernetes\n}\n")
    assert o.settings.local_addresses == ()


def test_blocks_watching_alike_share_one_cache() -> None:
    """A block on two ports is set up twice; it must not list and watch the cluster twice."""
    loaded = load(
        """
        cluster.local:1053 cluster.local:1054 {
            kubernetes
        }
        example.internal:1055 {
            kubernetes {
                ttl 30
            }
        }
        cluster.local:1056 {
            kubernetes {
                pods verified
            }
        }
        """
    )
    first, second, third, fourth = (kubernetes_in(s.handler) for s in loaded.servers)
    assert first is not second
    assert first.store is second.store is third.store
    assert fourth.store is not first.store
    assert third.synth.settings.ttl == 30
    # One start and one stop per cache, one readiness check for all of them.
    assert len(loaded.hooks.startup) == 2
    assert list(loaded.hooks.readiness) == ["kubernetes"]
    ready = loaded.hooks.readiness["kubernetes"]
    assert not ready()
    for kind in store.KINDS:
        if kind != "pods":
            first.store.sink(kind).mark_synced()
    assert not ready()  # the pods-verified cache is still waiting
    for kind in store.KINDS:
        fourth.store.sink(kind).mark_synced()
    assert ready()


def kubernetes_in(handler: object) -> Kubernetes:
    current = handler
    while not isinstance(current, Kubernetes):
        current = current.next  # type: ignore[attr-defined]
    return current


ERRORS = [
    pytest.param(
        """
        cluster.local {
            kubernetes {
                namespaces a b
                pods insecure
                namespace_labels team=x
            }
        }
        """,
        6,
        "namespaces and namespace_labels cannot both be set",
        id="namespaces+namespace_labels",
    ),
    pytest.param(
        """
        cluster.local {
            kubernetes {
                namespace_labels team=x
                namespaces a
            }
        }
        """,
        5,
        "namespaces and namespace_labels cannot both be set",
        id="namespace_labels+namespaces",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    pods secure\n  }\n}\n",
        3,
        "invalid value for pods: secure, must be one of: disabled, insecure, verified",
        id="pods-value",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    pods\n  }\n}\n",
        3,
        "Wrong argument count",
        id="pods-no-arg",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    ttl 3601\n  }\n}\n",
        3,
        "ttl must be in range [0, 3600]: 3601",
        id="ttl-high",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    ttl -1\n  }\n}\n",
        3,
        "ttl must be in range [0, 3600]: -1",
        id="ttl-negative",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    ttl 5s\n  }\n}\n",
        3,
        "ttl must be in range",
        id="ttl-duration",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    ttl 5 6\n  }\n}\n",
        3,
        "Wrong argument count",
        id="ttl-two",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    ttl 5\n    resyncperiod 30s\n  }\n}\n",
        4,
        "unknown property 'resyncperiod'",
        id="unknown-property",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    multicluster clusterset.local\n  }\n}\n",
        3,
        "unknown property 'multicluster'",
        id="multicluster-unsupported",
    ),
    pytest.param(
        "in-addr.arpa {\n  errors\n  kubernetes\n}\n",
        3,
        "at least one zone must be a forward (non-reverse) zone",
        id="no-forward-zone-from-block",
    ),
    pytest.param(
        ". {\n  kubernetes in-addr.arpa 10.0.0.0/8\n}\n",
        2,
        "at least one zone must be a forward (non-reverse) zone",
        id="no-forward-zone-from-args",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    ignore nothing\n  }\n}\n",
        3,
        "unable to parse ignore value",
        id="ignore-value",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    endpoint\n  }\n}\n",
        3,
        "Wrong argument count",
        id="endpoint-no-arg",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    tls a b\n  }\n}\n",
        3,
        "Wrong argument count",
        id="tls-two",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    kubeconfig a b c\n  }\n}\n",
        3,
        "Wrong argument count",
        id="kubeconfig-three",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    endpoint_pod_names yes\n  }\n}\n",
        3,
        "Wrong argument count",
        id="epn-arg",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    noendpoints 1\n  }\n}\n",
        3,
        "Wrong argument count",
        id="noendpoints-arg",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    startup_timeout soon\n  }\n}\n",
        3,
        "",
        id="startup-timeout",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    fallthrough 10.0.0.0/33\n  }\n}\n",
        3,
        "invalid CIDR",
        id="fallthrough-cidr",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    apiserver_qps\n  }\n}\n",
        3,
        "Wrong argument count",
        id="qps-no-arg",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes {\n    namespaces\n  }\n}\n",
        3,
        "Wrong argument count",
        id="namespaces-none",
    ),
    pytest.param(
        "cluster.local {\n  kubernetes\n  kubernetes\n}\n",
        3,
        "can only be used once per server block",
        id="twice",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        load(text)
    err = caught.value
    assert err.line == line, str(err)
    assert err.plugin == "kubernetes"
    assert message in err.reason
    assert f"Corefile:{line} - Error during parsing: " in str(err)

"""``k8s_external``: CoreDNS's external_test cases against the watch cache, and a LoadBalancer
Service served end to end from the fake API server."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kdns import plugin, wire
from kdns.errors import CorefileError
from kdns.pkg import fall
from kdns.plugins.k8s_external.handler import K8sExternal
from kdns.plugins.k8s_external.lookup import Lookup
from tests.support import apiserver as fa
from tests.support import cluster, kube_e2e, seam

ZONE = "example.com."
HTTP = {"name": "http", "port": 80, "protocol": "TCP"}


def external(
    raw: dict[str, Any], *ips: str, lb: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    raw["spec"]["externalIPs"] = list(ips)
    if lb:
        raw["status"] = {"loadBalancer": {"ingress": lb}}
    return raw


def objects() -> dict[str, list[dict[str, Any]]]:
    return {
        "namespaces": [fa.namespace("testns")],
        "services": [
            external(fa.service("svc1", "testns", cluster_ips=["10.96.0.1"]), "1.2.3.4"),
            fa.service("svc0", "testns", cluster_ips=["10.96.0.2"]),
            external(fa.service("svc6", "testns", cluster_ips=["10.96.0.6"]), "1:2::5"),
            external(
                fa.service("svc12", "testns", cluster_ips=["10.96.0.12"], type="LoadBalancer"),
                lb=[{"hostname": "dummy.hostname"}],
            ),
            fa.service("svc-headless", "testns", cluster_ips=["None"]),
            external(fa.service("lost", "nonexposed", cluster_ips=["10.96.0.3"]), "1.2.3.9"),
        ],
        "endpointslices": [
            fa.endpoint_slice(
                "svc-headless-1",
                "testns",
                service="svc-headless",
                endpoints=[
                    fa.endpoint("1.2.3.4", hostname="endpoint-svc-0"),
                    fa.endpoint("1.2.3.5", hostname="endpoint-svc-1"),
                ],
            )
        ],
    }


class Empty:
    name = "next"

    def serve(self, req: object) -> plugin.Result:
        return wire.Answer.failure(wire.SERVFAIL, "next")


@pytest.fixture
def ext() -> tuple[K8sExternal, cluster.Cluster]:
    c = cluster.build(objects=objects())  # type: ignore[arg-type]
    plugin_ = K8sExternal(
        c.handler,
        zones=(ZONE, "in-addr.arpa."),
        apex="dns",
        ttl=5,
        fall=fall.ZERO,
        find=Lookup(c.store, c.synth.settings, headless=True),
    )
    return plugin_, c


def ask(ext: tuple[K8sExternal, cluster.Cluster], name: str, qtype: str) -> cluster.Reply:
    handler, c = ext
    req = cluster.request(name, qtype)
    req.table = c.table
    result = handler.serve(req)
    assert not inspect.isawaitable(result)
    assert isinstance(result, wire.Answer)
    return cluster.parse(req, result)


SOA = f"{ZONE} 5 IN SOA ns1.dns.{ZONE} hostmaster.dns.{ZONE} {cluster.T0} 7200 1800 86400 5"


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "answer", "authority"),
    [
        (f"svc1.testns.{ZONE}", "A", "NOERROR", [f"svc1.testns.{ZONE} 5 IN A 1.2.3.4"], []),
        (f"svc1.testns.{ZONE}", "AAAA", "NOERROR", [], [SOA]),
        (f"svc6.testns.{ZONE}", "AAAA", "NOERROR", [f"svc6.testns.{ZONE} 5 IN AAAA 1:2::5"], []),
        (f"svc0.testns.{ZONE}", "A", "NXDOMAIN", [], [SOA]),
        (f"svc1.svc-nons.{ZONE}", "A", "NXDOMAIN", [], [SOA]),
        (f"lost.nonexposed.{ZONE}", "A", "NXDOMAIN", [], [SOA]),
        (f"testns.{ZONE}", "A", "NOERROR", [], [SOA]),
        (ZONE, "SOA", "NOERROR", [SOA], []),
        (f"_http._tcp.svc1.testns.{ZONE}", "SRV", "NOERROR",
         [f"_http._tcp.svc1.testns.{ZONE} 5 IN SRV 0 100 80 svc1.testns.{ZONE}"], []),
        (f"*._not-udp-or-tcp.svc1.testns.{ZONE}", "SRV", "NXDOMAIN", [], [SOA]),
        (f"svc-headless.testns.{ZONE}", "A", "NOERROR",
         [f"svc-headless.testns.{ZONE} 5 IN A 1.2.3.4", f"svc-headless.testns.{ZONE} 5 IN A 1.2.3.5"], []),
        (f"endpoint-svc-0.svc-headless.testns.{ZONE}", "A", "NOERROR",
         [f"endpoint-svc-0.svc-headless.testns.{ZONE} 5 IN A 1.2.3.4"], []),
        ("4.3.2.1.in-addr.arpa.", "PTR", "NOERROR",
         [f"4.3.2.1.in-addr.arpa. 5 IN PTR svc1.testns.{ZONE}"], []),
        (f"svc1.testns.{ZONE}", "PTR", "NOERROR", [], [SOA]),
        (f"ns1.dns.{ZONE}", "MX", "NOERROR", [], [SOA]),
        (f"other.dns.{ZONE}", "A", "NXDOMAIN", [], [SOA]),
    ],
)  # fmt: skip
def test_coredns_cases(
    ext: tuple[K8sExternal, cluster.Cluster],
    name: str,
    qtype: str,
    rcode: str,
    answer: list[str],
    authority: list[str],
) -> None:
    reply = ask(ext, name, qtype)
    assert (reply.rcode, sorted(reply.answer), reply.authority) == (
        rcode,
        sorted(answer),
        authority,
    )
    assert reply.aa


def test_srv_on_a_service_carries_the_address_as_additional(
    ext: tuple[K8sExternal, cluster.Cluster],
) -> None:
    reply = ask(ext, f"svc1.testns.{ZONE}", "SRV")
    assert reply.answer == [f"svc1.testns.{ZONE} 5 IN SRV 0 100 80 svc1.testns.{ZONE}"]
    assert reply.additional == [f"svc1.testns.{ZONE} 5 IN A 1.2.3.4"]


def test_headless_srv_splits_the_weight_between_endpoints(
    ext: tuple[K8sExternal, cluster.Cluster],
) -> None:
    reply = ask(ext, f"svc-headless.testns.{ZONE}", "SRV")
    assert sorted(reply.answer) == [
        f"svc-headless.testns.{ZONE} 5 IN SRV 0 50 80 endpoint-svc-{i}.svc-headless.testns.{ZONE}"
        for i in (0, 1)
    ]


async def test_a_load_balancer_hostname_is_a_cname(
    ext: tuple[K8sExternal, cluster.Cluster],
) -> None:
    handler, c = ext
    req = cluster.request(f"svc12.testns.{ZONE}", "A")
    req.table = c.table
    reply = cluster.parse(req, await plugin.resolve(handler.serve(req)))
    assert reply.answer[0] == f"svc12.testns.{ZONE} 5 IN CNAME dummy.hostname."


def test_names_outside_the_zones_go_to_the_next_plugin(
    ext: tuple[K8sExternal, cluster.Cluster],
) -> None:
    reply = ask(ext, "svc1.testns.svc.cluster.local.", "A")
    assert reply.answer == ["svc1.testns.svc.cluster.local. 5 IN A 10.96.0.1"]


def test_without_kubernetes_in_the_block_setup_fails() -> None:
    with pytest.raises(CorefileError, match="kubernetes plugin not loaded"):
        seam.load("example.com {\n    k8s_external\n}\n")


@pytest.mark.parametrize("option", ["ttl 3601", "ttl x", "apex a.b", "bogus"])
def test_bad_options_stop_startup(option: str) -> None:
    text = f"example.com {{\n    k8s_external {{\n        {option}\n    }}\n    kubernetes\n}}\n"
    with pytest.raises(CorefileError, match=r"^plugin/k8s_external: Corefile:3 - Error"):
        seam.load(text)


COREFILE = """\
.:{port} {
    bind 127.0.0.1
    k8s_external example.com
    kubernetes cluster.local {
        kubeconfig KUBECONFIG
        startup_timeout STARTUP
    }
}
"""


@pytest.fixture(scope="module")
def api() -> Iterator[kube_e2e.ThreadedAPI]:
    with kube_e2e.api_server() as server:
        server.start()
        server.create(fa.namespace("shop"))
        svc = fa.service("web", "shop", cluster_ips=["10.96.5.5"], type="LoadBalancer")
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
        server.create(svc)
        yield server


def test_a_load_balancer_service_from_the_api_server(
    api: kube_e2e.ThreadedAPI, tmp_path: Path
) -> None:
    with kube_e2e.kdns(api, tmp_path, corefile=COREFILE) as kdns:
        kube_e2e.wait_for(
            lambda: kdns.dig("web.shop.example.com", "A").rdata() == ["203.0.113.7"],
            timeout=10,
            interval=0.05,
        )
        moved = fa.service("web", "shop", cluster_ips=["10.96.5.5"], type="LoadBalancer")
        moved["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.8"}]}}
        api.apply(moved)
        kube_e2e.wait_for(
            lambda: kdns.dig("web.shop.example.com", "A").rdata() == ["203.0.113.8"],
            timeout=10,
            interval=0.05,
        )
        assert kdns.dig("web.shop.example.com", "AAAA").status == "NOERROR"
        assert kdns.dig("nothere.shop.example.com", "A").status == "NXDOMAIN"

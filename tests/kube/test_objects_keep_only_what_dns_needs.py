"""Raw API JSON becomes slim, immutable objects holding only what DNS answers need."""

from __future__ import annotations

import dataclasses

import pytest

from kdns.kube import objects
from tests.support import apiserver as fake


def test_service_cluster_ips_come_from_cluster_ips_with_cluster_ip_fallback():
    raw = fake.service("web", cluster_ips=["10.0.0.1", "fd00::1"])
    svc = objects.to_service(raw)
    assert svc.cluster_ips == ("10.0.0.1", "fd00::1")
    assert not svc.headless

    del raw["spec"]["clusterIPs"]
    assert objects.to_service(raw).cluster_ips == ("10.0.0.1",)


def test_headless_service_is_recognised_by_its_first_cluster_ip():
    svc = objects.to_service(fake.service("db", cluster_ips=["None"]))
    assert svc.headless
    assert svc.cluster_ips == ("None",)


def test_external_name_is_kept_only_for_type_external_name():
    ext = objects.to_service(fake.service("ext", type="ExternalName", external_name="example.org"))
    assert ext.external_name == "example.org"
    assert ext.cluster_ips == ()
    raw = fake.service("web")
    raw["spec"]["externalName"] = "ignored.example"
    assert objects.to_service(raw).external_name == ""


def test_service_ports_default_protocol_and_missing_name():
    raw = fake.service("web", ports=[{"port": 53, "protocol": "UDP"}, {"name": "m", "port": 9153}])
    del raw["spec"]["ports"][1]["protocol"]
    assert objects.to_service(raw).ports == (
        objects.Port("", "UDP", 53),
        objects.Port("m", "TCP", 9153),
    )
    assert objects.to_service(fake.service("bare", ports=[])).ports == ()


def test_endpoint_ready_when_condition_is_true_or_unset():
    raw = fake.endpoint_slice(
        "web-abc",
        service="web",
        endpoints=[
            fake.endpoint("10.1.0.1", ready=True),
            fake.endpoint("10.1.0.2", ready=None),  # unknown means ready, says the API
            fake.endpoint("10.1.0.3", ready=False),
        ],
    )
    raw["endpoints"][1]["conditions"] = {"ready": None}
    eps = objects.to_endpoint_slice(raw)
    assert [e.ready for e in eps.endpoints] == [True, True, False]


def test_endpoint_slice_keeps_service_label_hostname_and_pod_target():
    raw = fake.endpoint_slice(
        "db-xyz",
        "prod",
        service="db",
        address_type="IPv6",
        endpoints=[fake.endpoint("fd00::5", hostname="db-0", pod="db-0", ns="prod")],
        ports=[{"name": "pg", "port": 5432}, {"name": "all", "port": None}],
    )
    raw["endpoints"].append({"addresses": ["fd00::6"], "targetRef": {"kind": "Node", "name": "n"}})
    eps = objects.to_endpoint_slice(raw)
    assert (eps.namespace, eps.name, eps.service, eps.address_type) == (
        "prod",
        "db-xyz",
        "db",
        "IPv6",
    )
    assert eps.endpoints[0] == objects.Endpoint(("fd00::5",), True, "db-0", "db-0")
    assert eps.endpoints[1].pod_name == ""
    assert eps.ports == (objects.Port("pg", "TCP", 5432),)  # a port without number is skipped


def test_endpoint_slice_with_null_endpoints_and_ports():
    eps = objects.to_endpoint_slice(fake.endpoint_slice("empty", service="web", ports=[]))
    assert eps.endpoints == () and eps.ports == ()


def test_pod_keeps_primary_ip_and_deletion_flag():
    pod = objects.to_pod(fake.pod("p", "ns1", ip="10.244.1.2", deleting=True))
    assert pod == objects.Pod("ns1", "p", "10.244.1.2", True)
    assert objects.to_pod(fake.pod("q", ip=None)).ip == ""


def test_slim_objects_are_frozen_and_slotted():
    svc = objects.to_service(fake.service("web"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        svc.name = "other"  # type: ignore[misc]
    assert not hasattr(svc, "__dict__")


def test_repeated_strings_and_ports_are_shared():
    a = objects.to_service(fake.service("a", "team-" + "x"))
    b = objects.to_service(fake.service("b", "".join(["team-", "x"])))
    assert a.namespace is b.namespace
    assert a.ports[0] is b.ports[0]

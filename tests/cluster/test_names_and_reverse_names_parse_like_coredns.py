"""The pure helpers of kdns.cluster: cluster name grammar, reverse names, dashed addresses."""

from __future__ import annotations

import pytest

from kdns.cluster import kubernetes, names, reverse
from kdns.cluster.names import RecordRequest
from kdns.pkg import dnsname


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([], RecordRequest()),
        (["svc"], RecordRequest()),
        (["pod"], RecordRequest()),
        (["ns", "svc"], RecordRequest(kind="svc", namespace="ns")),
        (["ns", "pod"], RecordRequest(kind="pod", namespace="ns")),
        (["web", "ns", "svc"], RecordRequest(kind="svc", namespace="ns", service="web")),
        (["ep", "web", "ns", "svc"], RecordRequest("svc", "ns", "web", endpoint="ep")),
        (
            ["_http", "_tcp", "web", "ns", "svc"],
            RecordRequest("svc", "ns", "web", port="http", protocol="tcp"),
        ),
        # One leading underscore is stripped, not required; a second one stays.
        (
            ["http", "tcp", "web", "ns", "svc"],
            RecordRequest("svc", "ns", "web", port="http", protocol="tcp"),
        ),
        (
            ["__http", "_tcp", "web", "ns", "svc"],
            RecordRequest("svc", "ns", "web", port="_http", protocol="tcp"),
        ),
        (["x", "1-2-3-4", "ns", "pod"], RecordRequest("pod", "ns", "1-2-3-4", endpoint="x")),
    ],
)
def test_parse(labels: list[str], expected: RecordRequest) -> None:
    assert names.parse(labels) == expected


@pytest.mark.parametrize(
    "labels",
    [
        ["foo"],
        ["dns"],
        ["web", "ns", "foo"],
        ["a", "b", "c", "web", "ns", "svc"],
        ["svc", "svc", "x"],
    ],
)
def test_parse_refuses_names_that_cannot_exist(labels: list[str]) -> None:
    with pytest.raises(names.InvalidName):
        names.parse(labels)


@pytest.mark.parametrize(
    ("name", "zone", "labels"),
    [
        ("cluster.local.", "cluster.local.", []),
        ("web.ns.svc.cluster.local.", "cluster.local.", ["web", "ns", "svc"]),
        ("web.ns.svc.", ".", ["web", "ns", "svc"]),
        (".", ".", []),
    ],
)
def test_relative_labels(name: str, zone: str, labels: list[str]) -> None:
    assert dnsname.text_relative(name, zone) == labels


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("1.0.96.10.in-addr.arpa.", "10.96.0.1"),
        ("0.0.0.0.in-addr.arpa.", "0.0.0.0"),
        (
            "0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
            "fd00:10:96::30",
        ),
        ("0.96.10.in-addr.arpa.", None),
        ("1.1.0.96.10.in-addr.arpa.", None),
        ("256.0.96.10.in-addr.arpa.", None),
        ("a.0.96.10.in-addr.arpa.", None),
        ("01.0.96.10.in-addr.arpa.", None),
        ("in-addr.arpa.", None),
        ("d.f.ip6.arpa.", None),
        ("00.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.d.f.ip6.arpa.", None),
        ("g.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.", None),
        ("web.ns.svc.cluster.local.", None),
    ],
)
def test_reverse_address(name: str, address: str | None) -> None:
    assert reverse.address(name) == address


def test_is_reverse() -> None:
    assert reverse.is_reverse("in-addr.arpa.")
    assert reverse.is_reverse("ip6.arpa.")
    assert reverse.is_reverse("10.in-addr.arpa.")
    assert not reverse.is_reverse("cluster.local.")
    assert not reverse.is_reverse("arpa.")
    assert not reverse.is_reverse("xin-addr.arpa.")


def test_canonical() -> None:
    assert reverse.canonical("fd00:0:0::1") == "fd00::1"
    assert reverse.canonical("10.0.0.1") == "10.0.0.1"
    assert reverse.canonical("not-an-ip") == "not-an-ip"


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("10.244.1.1", "10-244-1-1"),
        ("fd00:244::7", "fd00-244--7"),
        ("fd00:244::", "fd00-244--0"),
        ("::1", "--1"),
    ],
)
def test_dashed(address: str, name: str) -> None:
    assert kubernetes.dashed(address) == name

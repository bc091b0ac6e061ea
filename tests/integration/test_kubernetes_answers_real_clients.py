"""A real kdns process watching the fake API server, asked by ``dig`` and dnspython.

The fixture cluster is the one the in-process record tests use, plus a headless service with
150 ready endpoints (answers that do not fit a UDP reply).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.support import apiserver as fa
from tests.support import clients, cluster, kube_e2e

T = "testns.svc.cluster.local."
BIG = f"big.{T}"
BIG_ADDRESSES = [f"10.245.{i // 200}.{i % 200 + 1}" for i in range(150)]


def rev(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


@pytest.fixture(scope="module")
def api() -> Iterator[kube_e2e.ThreadedAPI]:
    with kube_e2e.api_server() as server:
        server.start()
        objects = cluster.fixture_objects()
        for kind in ("namespaces", "services", "endpointslices"):
            for raw in objects[kind]:
                server.create(raw)
        server.create(fa.service("big", "testns", cluster_ips=["None"]))
        for part in range(3):
            endpoints = [fa.endpoint(ip) for ip in BIG_ADDRESSES[part * 50 : (part + 1) * 50]]
            server.create(
                fa.endpoint_slice(f"big-{part}", "testns", service="big", endpoints=endpoints)
            )
        yield server


@pytest.fixture(scope="module")
def kdns(
    api: kube_e2e.ThreadedAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[kube_e2e.Kdns]:
    with kube_e2e.kdns(api, tmp_path_factory.mktemp("kdns")) as server:
        kube_e2e.wait_for(lambda: server.ready()[0] == 200, timeout=10, interval=0.05)
        yield server


def test_cluster_ip_and_dual_stack_alike_over_ipv4_and_ipv6(kdns: kube_e2e.Kdns) -> None:
    for host in ("127.0.0.1", "::1"):
        web = kdns.dig(f"web.{T}", host=host)
        assert (web.status, web.rdata()) == ("NOERROR", ["10.96.0.20"])
        assert "aa" in web.flags and "ra" not in web.flags
        assert kdns.dig(f"dual.{T}", "AAAA", host=host).rdata() == ["fd00:10:96::30"]
        assert kdns.dig(f"dual.{T}", "A", host=host).rdata() == ["10.96.0.30"]
        nodata = kdns.dig(f"web.{T}", "AAAA", host=host)
        assert (nodata.status, nodata.answer) == ("NOERROR", [])
        assert nodata.authority == [
            "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
            + nodata.authority[0].split()[-5]
            + " 7200 1800 86400 30"
        ]


def test_srv_with_targets_in_the_additional_section(kdns: kube_e2e.Kdns) -> None:
    reply = kdns.dig(f"_http._tcp.web.{T}", "SRV")
    assert reply.answer == [f"_http._tcp.web.{T} 30 IN SRV 0 100 80 web.{T}"]
    assert reply.additional == [f"web.{T} 30 IN A 10.96.0.20"]
    reply = kdns.dig(f"_peer._tcp.pnr.{T}", "SRV")
    assert reply.rdata() == [f"0 50 2380 etcd-0.pnr.{T}", f"0 50 2380 etcd-1.pnr.{T}"]


def test_endpointslice_semantics(kdns: kube_e2e.Kdns) -> None:
    """USER-NEEDS #21: merged slices, duplicates once, not-ready out, IPv6 slice, PNR."""
    assert kdns.dig(f"hdls.{T}").rdata() == ["10.244.2.1", "10.244.2.2", "10.244.2.4", "10.244.2.6"]
    assert kdns.dig(f"hdls.{T}", "AAAA").rdata() == ["fd00:244::", "fd00:244::7"]
    assert kdns.dig(f"db-0.hdls.{T}").rdata() == ["10.244.2.1", "10.244.2.6"]
    assert kdns.dig(f"pnr.{T}").rdata() == ["10.244.3.1", "10.244.3.2"]
    assert kdns.dig(f"unready.{T}").status == "NXDOMAIN"
    assert kdns.dig(f"10-244-2-3.hdls.{T}").status == "NXDOMAIN"


def test_ptr_for_cluster_ips_and_endpoints(kdns: kube_e2e.Kdns) -> None:
    assert kdns.dig("-x", "10.96.0.20").rdata() == [f"web.{T}"]
    assert kdns.dig("-x", "fd00:10:96::30").rdata() == [f"dual.{T}"]
    assert kdns.dig("-x", "10.244.1.1").rdata() == [f"10-244-1-1.other.{T}", f"10-244-1-1.web.{T}"]


def test_reverse_misses_fall_through_to_the_end_of_the_chain(kdns: kube_e2e.Kdns) -> None:
    """USER-NEEDS #27: no next plugin after the fallthrough: SERVFAIL and CoreDNS's log line."""
    assert kdns.dig("-x", "192.0.2.1").status == "SERVFAIL"
    kube_e2e.wait_for(
        lambda: (
            "1.2.0.192.in-addr.arpa. PTR: plugin/kubernetes: no next plugin found" in kdns.output
        ),
        timeout=2,
    )


def test_negative_answers(kdns: kube_e2e.Kdns) -> None:
    nx = kdns.dig(f"nope.{T}")
    assert (nx.status, nx.answer) == ("NXDOMAIN", [])
    assert nx.authority[0].startswith(
        "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
    )
    assert kdns.dig("nope.svc.cluster.local.").status == "NXDOMAIN"
    assert kdns.dig(f"x.ext-in.{T}").status == "NXDOMAIN"
    assert kdns.dig(T).status == "NOERROR"
    assert kdns.dig("10-244-1-1.testns.pod.cluster.local.").rdata() == ["10.244.1.1"]
    axfr = dns.query.tcp(
        dns.message.make_query("cluster.local.", "AXFR"), "127.0.0.1", port=kdns.port, timeout=2
    )
    assert axfr.rcode() == dns.rcode.REFUSED


def test_external_names_chase_in_the_cluster_and_through_another_block(kdns: kube_e2e.Kdns) -> None:
    inside = kdns.dig(f"ext-in.{T}")
    assert inside.answer == [f"ext-in.{T} 30 IN CNAME web.{T}", f"web.{T} 30 IN A 10.96.0.20"]
    outside = kdns.dig(f"ext-out.{T}")
    assert outside.answer == [
        f"ext-out.{T} 30 IN CNAME www.example.org.",
        "www.example.org. 300 IN A 192.0.2.10",
    ]
    assert "aa" in outside.flags
    outside6 = kdns.dig(f"ext-out.{T}", "AAAA", "+tcp")
    assert outside6.answer[-1] == "www.example.org. 300 IN AAAA 2001:db8::10"


def test_headless_answers_fit_the_transport(kdns: kube_e2e.Kdns) -> None:
    """USER-NEEDS #22: 150 endpoints over UDP without EDNS, with 1232, and over TCP."""
    small = kdns.dig(BIG, "+noedns", "+ignore")
    assert small.size <= 512 and "tc" in small.flags
    assert 0 < len(small.answer) < 150
    edns = kdns.dig(BIG, "+bufsize=1232", "+ignore")
    assert edns.size <= 1232 and "tc" in edns.flags
    assert len(small.answer) < len(edns.answer) < 150
    tcp = kdns.dig(BIG, "+tcp")
    assert "tc" not in tcp.flags
    assert tcp.rdata() == sorted(BIG_ADDRESSES)
    # dnspython agrees on both transports.
    query = dns.message.make_query(BIG, "A")
    udp_reply = dns.query.udp(query, "127.0.0.1", port=kdns.port, timeout=2, ignore_trailing=True)
    assert udp_reply.flags & dns.flags.TC
    tcp_reply = dns.query.tcp(query, "127.0.0.1", port=kdns.port, timeout=2)
    assert sum(len(rrset) for rrset in tcp_reply.answer) == 150


def test_case_is_echoed(kdns: kube_e2e.Kdns) -> None:
    reply = kdns.dig("WEB.TestNS.svc.Cluster.Local.")
    assert reply.answer == ["WEB.TestNS.svc.Cluster.Local. 30 IN A 10.96.0.20"]


def test_health_and_ready(kdns: kube_e2e.Kdns) -> None:
    assert kdns.ready() == (200, "OK")
    assert kdns.health()[0] == 200


def test_a_bad_corefile_stops_kdns_with_its_line(tmp_path: Path) -> None:
    """USER-NEEDS #26: namespaces with namespace_labels is a startup error naming the line."""
    corefile = tmp_path / "Corefile"
    corefile.write_text(
        "cluster.local:1053 {\n  kubernetes {\n    namespaces a\n    namespace_labels x=y\n  }\n}\n"
    )
    proc = clients.run_kdns(["-conf", str(corefile)], cwd=corefile.parent, timeout=30)
    assert proc.returncode == 1
    assert f"{corefile}:4 - Error during parsing: namespaces and namespace_labels" in proc.stderr

"""The handler around synthesis: SERVFAIL before the first sync, fallthrough, what passes on,
zone transfers, and the client's letter case in the reply."""

from __future__ import annotations

import ipaddress

from kdns.pkg import fall
from tests.support import cluster as k
from tests.support.cluster import Case, nodata, nxdomain

T = "testns.svc.cluster.local."
PASSED = "NOTIMP"  # what the fake next plugin answers


def rev(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer + "."


# --- before the first sync -------------------------------------------------------------------------


def test_before_sync_a_name_error_is_servfail_with_the_soa() -> None:
    c = k.build(synced=False)
    for name, qtype in (
        (f"nope.{T}", "A"),
        ("nope.svc.cluster.local.", "A"),
        (rev("192.0.2.1"), "PTR"),
    ):
        reply = k.ask(c, name, qtype)
        assert reply.rcode == "SERVFAIL", name
        assert reply.aa
        assert len(reply.authority) == 1 and " IN SOA " in reply.authority[0]
    # Nothing is pre-rendered from a cache that is still filling.
    assert len(c.answers) == 0


def test_before_sync_what_is_cached_already_answers() -> None:
    c = k.build(synced=False)
    k.check(k.ask(c, f"web.{T}"), Case(f"web.{T}", answer=(f"web.{T} 5 IN A 10.96.0.20",)))
    k.check(k.ask(c, T), nodata(T))
    assert len(c.answers) == 0


def test_before_sync_fallthrough_passes_name_errors_on() -> None:
    c = k.build(synced=False, fallthrough=fall.ROOT)
    assert k.ask(c, f"nope.{T}").rcode == PASSED
    assert c.next.seen == [f"nope.{T}"]


def test_after_sync_the_name_error_is_nxdomain() -> None:
    c = k.build(synced=False)
    assert k.ask(c, f"nope.{T}").rcode == "SERVFAIL"
    for kind in ("services", "endpointslices", "namespaces"):
        c.store.sink(kind).mark_synced()
    k.check(k.ask(c, f"nope.{T}"), nxdomain(f"nope.{T}"))


def test_sync_needs_every_watched_kind() -> None:
    c = k.build(synced=False, pods="verified")
    for kind in ("services", "endpointslices", "namespaces"):
        c.store.sink(kind).mark_synced()
    assert k.ask(c, f"nope.{T}").rcode == "SERVFAIL"
    c.store.sink("pods").mark_synced()
    assert k.ask(c, f"nope.{T}").rcode == "NXDOMAIN"


# --- fallthrough -------------------------------------------------------------------------------------


def test_fallthrough_everything_passes_only_name_errors_on() -> None:
    c = k.build(fallthrough=fall.ROOT)
    assert k.ask(c, f"nope.{T}").rcode == PASSED
    assert k.ask(c, rev("192.0.2.1"), "PTR").rcode == PASSED
    # NODATA and positive answers are answered here.
    k.check(k.ask(c, f"web.{T}", "AAAA"), nodata(f"web.{T}", "AAAA"))
    k.check(k.ask(c, T), nodata(T))
    assert k.ask(c, f"web.{T}").answer == [f"web.{T} 5 IN A 10.96.0.20"]
    assert c.next.seen == [f"nope.{T}", rev("192.0.2.1")]
    # A name that fell through is not pre-rendered.
    assert c.answers.get(k.request(f"nope.{T}", "A").key) is None


def test_fallthrough_reverse_zones_only() -> None:
    """kubeadm's ``fallthrough in-addr.arpa ip6.arpa``."""
    c = k.build(fallthrough=fall.from_args(("in-addr.arpa", "ip6.arpa")))
    assert k.ask(c, rev("192.0.2.1"), "PTR").rcode == PASSED
    assert k.ask(c, rev("2001:db8::1"), "PTR").rcode == PASSED
    # Cluster addresses are answered locally, cluster-zone misses are NXDOMAIN.
    assert k.ask(c, rev("10.96.0.20"), "PTR").answer == [f"{rev('10.96.0.20')} 5 IN PTR web.{T}"]
    k.check(k.ask(c, f"nope.{T}"), nxdomain(f"nope.{T}"))
    assert c.next.seen == [rev("192.0.2.1"), rev("2001:db8::1")]


def test_fallthrough_zone_must_match_whole_labels() -> None:
    c = k.build(fallthrough=fall.from_args(("testns.svc.cluster.local",)))
    assert k.ask(c, f"nope.{T}").rcode == PASSED
    k.check(
        k.ask(c, "nope.xtestns.svc.cluster.local."), nxdomain("nope.xtestns.svc.cluster.local.")
    )


# --- what is not this plugin's -------------------------------------------------------------------


def test_names_outside_the_zones_pass_on() -> None:
    # Other classes never reach the plugin: the server refuses them (tests/server).
    c = k.build()
    assert k.ask(c, "www.example.org.").rcode == PASSED
    assert k.ask(c, "cluster.local.org.").rcode == PASSED
    assert k.ask(c, "xcluster.local.").rcode == PASSED
    assert c.next.seen == ["www.example.org.", "cluster.local.org.", "xcluster.local."]


def test_an_escaped_dot_is_no_zone_boundary() -> None:
    """``x.svc\\.cluster.local.`` has the labels x, "svc.cluster" and local: it is under
    ``local.`` only, so it is not the cluster zone's (CoreDNS's ``dns.IsSubDomain``)."""
    c = k.build()
    for name in ("x.svc\\.cluster.local.", "cluster\\.local."):
        assert k.ask(c, name).rcode == PASSED, name
    assert c.next.seen == ["x.svc\\.cluster.local.", "cluster\\.local."]


def test_zone_transfers_are_refused() -> None:
    c = k.build()
    for qtype in ("AXFR", "IXFR"):
        for name in ("cluster.local.", f"web.{T}", "in-addr.arpa."):
            reply = k.ask(c, name, qtype, proto="tcp")
            assert reply.rcode == "REFUSED"
            assert not reply.answer and not reply.authority
    assert c.next.seen == []


def test_the_longest_zone_wins() -> None:
    """With ``cluster.local`` and ``svc.cluster.local`` both served, the SOA is the closest."""
    c = k.build(zones=("cluster.local.", "testns.svc.cluster.local.", "in-addr.arpa."))
    reply = k.ask(c, f"nope.{T}")
    assert reply.rcode == "NXDOMAIN"
    assert reply.authority == [k.soa(T)]
    # In the longer zone, names are parsed relative to it: web.<zone> has no svc label.
    assert k.ask(c, f"web.{T}").rcode == "NXDOMAIN"


# --- the client's letter case ----------------------------------------------------------------------


def test_owner_names_echo_the_query_case() -> None:
    c = k.build()
    k.ask(c, f"web.{T}")  # pre-render with the lower-case question
    reply = k.ask(c, "WEB.TestNS.svc.Cluster.Local.")
    assert reply.answer == ["WEB.TestNS.svc.Cluster.Local. 5 IN A 10.96.0.20"]
    reply = k.ask(c, "_HTTP._Tcp.Web.testns.SVC.cluster.local.", "SRV")
    # SRV targets are never compressed, so their case is kdns's own (names compare alike).
    assert [line.lower() for line in reply.answer] == [
        "_http._tcp.web.testns.svc.cluster.local. 5 in srv 0 100 80 web.testns.svc.cluster.local."
    ]
    assert reply.answer[0].startswith("_HTTP._Tcp.Web.testns.SVC.cluster.local. ")
    reply = k.ask(c, "Dual.TESTNS.svc.cluster.local.", "AAAA")
    assert reply.answer == ["Dual.TESTNS.svc.cluster.local. 5 IN AAAA fd00:10:96::30"]


def test_negative_answers_echo_the_zone_case() -> None:
    c = k.build()
    reply = k.ask(c, "nope.testns.svc.CLUSTER.LOCAL.")
    assert reply.rcode == "NXDOMAIN"
    assert reply.authority == [k.soa(owner="CLUSTER.LOCAL.")]
    reply = k.ask(c, "Cluster.Local.", "SOA")
    assert reply.answer == [k.soa(owner="Cluster.Local.")]


def test_ns_answers_whatever_the_query_case() -> None:
    """Quirk: CoreDNS answers NS at the apex only for an all lower-case query name."""
    c = k.build()
    reply = k.ask(c, "CLUSTER.local.", "NS")
    # The target's zone part takes the query's case, as CoreDNS's does.
    assert reply.answer == ["CLUSTER.local. 5 IN NS kube-dns.kube-system.svc.CLUSTER.local."]


def test_reverse_names_match_whatever_the_case() -> None:
    c = k.build()
    name = rev("fd00:10:96::30").upper()
    reply = k.ask(c, name, "PTR")
    assert reply.answer == [f"{name} 5 IN PTR dual.{T}"]


def test_udp_answers_fit_the_client_buffer() -> None:
    """A large headless answer over UDP without EDNS is cut at a record boundary with TC."""
    c = k.build()
    udp = k.ask(c, f"hdls.{T}", "SRV")
    assert len(udp.wire) <= 512
    assert "TC" in udp.flags
    assert len(udp.answer) == 5  # answers kept, additional records dropped first
    edns = k.ask(c, f"hdls.{T}", "SRV", edns=1232)
    assert "TC" not in edns.flags
    assert len(edns.additional) == 6

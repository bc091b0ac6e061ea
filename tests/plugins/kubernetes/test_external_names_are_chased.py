"""ExternalName services: the CNAME, then the target's records, from the cache when the target
is in the cluster zones, else through the server's own chain (``req.table``)."""

from __future__ import annotations

import logging

import pytest

from tests.support import apiserver as fa
from tests.support import cluster as k
from tests.support.cluster import Case

T = "testns.svc.cluster.local."
EXT = f"ext-out.{T}"
SOA = k.soa()


def rr(owner: str, rtype: str, rdata: str, ttl: int = 5) -> str:
    return f"{owner} {ttl} IN {rtype} {rdata}"


def external(name: str, target: str) -> fa.Obj:
    return fa.service(name, "testns", type="ExternalName", external_name=target, ports=[])


async def test_outside_target_is_resolved_through_the_chain() -> None:
    c = k.build()
    reply = await k.ask_async(c, EXT, "A")
    k.check(
        reply,
        Case(
            EXT,
            answer=(
                rr(EXT, "CNAME", "www.example.org."),
                rr("www.example.org.", "A", "192.0.2.10", 60),
            ),
        ),
    )
    reply = await k.ask_async(c, EXT, "AAAA")
    assert reply.answer == [
        rr(EXT, "CNAME", "www.example.org."),
        rr("www.example.org.", "AAAA", "2001:db8::10", 60),
    ]
    assert c.upstream.seen == [("www.example.org.", 1), ("www.example.org.", 28)]


async def test_outside_answers_are_fetched_each_time() -> None:
    """They belong to another server block (and its cache): never pre-rendered here."""
    c = k.build()
    for _ in range(3):
        await k.ask_async(c, EXT, "A")
    assert len(c.upstream.seen) == 3
    assert c.answers.get(k.request(EXT, "A").key) is None


async def test_case_of_the_query_is_kept_on_the_chased_answer() -> None:
    c = k.build()
    reply = await k.ask_async(c, "EXT-OUT.testns.svc.cluster.local.", "A")
    assert reply.answer[0] == rr("EXT-OUT.testns.svc.cluster.local.", "CNAME", "www.example.org.")


async def test_outside_target_without_records_leaves_the_cname() -> None:
    c = k.build()
    for target, rcode in (
        ("nothing.example.org", "NOERROR"),  # the upstream has no such data
        ("gone.example.org", "NXDOMAIN"),  # the target does not exist
        ("broken.example.org", "NOERROR"),  # the lookup failed: CNAME only
        ("www.example.net", "NOERROR"),  # no server block serves it: CNAME only
    ):
        c.apply(external("x", target))
        reply = await k.ask_async(c, f"x.{T}", "A")
        assert reply.rcode == rcode, target
        assert reply.answer == [rr(f"x.{T}", "CNAME", f"{target}.")], target


async def test_truncation_of_the_chased_part_propagates() -> None:
    c = k.build()
    c.apply(external("big", "big.example.org"))
    udp = await k.ask_async(c, f"big.{T}", "A")
    assert "TC" in udp.flags
    assert len(udp.wire) <= 512
    tcp = await k.ask_async(c, f"big.{T}", "A", proto="tcp")
    assert "TC" not in tcp.flags
    assert len(tcp.answer) == 101


async def test_chasing_stops_at_ten_cnames() -> None:
    c = k.build()
    for i in range(12):
        c.apply(external(f"c{i}", f"c{i + 1}.{T}"))
    c.apply(external("c12", f"web.{T}"))
    reply = await k.ask_async(c, f"c0.{T}", "A")
    assert reply.answer == [rr(f"c{i}.{T}", "CNAME", f"c{i + 1}.{T}") for i in range(10)]
    assert reply.authority == [SOA]
    # From c3 the chain is exactly ten long and ends in web's address.
    reply = await k.ask_async(c, f"c3.{T}", "A")
    assert len(reply.answer) == 11
    assert reply.answer[-1] == rr(f"web.{T}", "A", "10.96.0.20")


async def test_cname_loops_end() -> None:
    c = k.build()
    # x CNAME x is dropped: NODATA.
    c.apply(external("self", f"self.{T}"))
    k.check(await k.ask_async(c, f"self.{T}", "A"), Case(f"self.{T}", ns=(SOA,)))
    # A longer loop is answered once round, without repeating a record.
    c.apply(external("loop1", f"loop2.{T}"))
    c.apply(external("loop2", f"loop1.{T}"))
    k.check(
        await k.ask_async(c, f"loop1.{T}", "A"),
        Case(
            f"loop1.{T}",
            answer=(
                rr(f"loop1.{T}", "CNAME", f"loop2.{T}"),
                rr(f"loop2.{T}", "CNAME", f"loop1.{T}"),
            ),
            ns=(SOA,),
        ),
    )


async def test_in_cluster_target_that_does_not_exist() -> None:
    c = k.build()
    c.apply(external("dangling", f"nope.{T}"))
    k.check(
        await k.ask_async(c, f"dangling.{T}", "A"),
        Case(
            f"dangling.{T}",
            "A",
            "NXDOMAIN",
            answer=(rr(f"dangling.{T}", "CNAME", f"nope.{T}"),),
            ns=(SOA,),
        ),
    )


async def test_in_cluster_target_through_another_external_name_to_outside() -> None:
    c = k.build()
    c.apply(external("hop", f"ext-out.{T}"))
    reply = await k.ask_async(c, f"hop.{T}", "A")
    assert reply.answer == [
        rr(f"hop.{T}", "CNAME", EXT),
        rr(EXT, "CNAME", "www.example.org."),
        rr("www.example.org.", "A", "192.0.2.10", 60),
    ]


async def test_srv_on_an_external_name_is_the_cname() -> None:
    """A CNAME owner has no other data (RFC 1034): the CNAME answers every type, and the
    target's SRV records are looked up (CoreDNS drops ExternalName items from SRV answers)."""
    c = k.build()
    reply = await k.ask_async(c, EXT, "SRV")
    assert reply.rcode == "NOERROR"
    assert reply.answer == [rr(EXT, "CNAME", "www.example.org.")]
    assert c.upstream.seen == [("www.example.org.", 33)]


def test_ip_literal_external_name_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    c = k.build()
    with caplog.at_level(logging.WARNING, logger="kdns.plugin.kubernetes"):
        for qtype in ("A", "AAAA", "CNAME", "A"):
            k.check(k.ask(c, f"ext-ip.{T}", qtype), k.nxdomain(f"ext-ip.{T}", qtype))
            c.answers.clear()
    warnings = [r for r in caplog.records if "ext-ip" in r.getMessage()]
    assert len(warnings) == 1
    assert "10.1.2.3" in warnings[0].getMessage()


async def test_external_name_follows_its_target() -> None:
    """The pre-rendered in-cluster chase is dropped when the target service changes."""
    c = k.build()
    name = f"ext-in.{T}"
    first = await k.ask_async(c, name)
    assert first.answer[-1] == rr(f"web.{T}", "A", "10.96.0.20")
    c.apply(fa.service("web", "testns", cluster_ips=["10.96.0.22"]), at=k.T0 + 5)
    second = await k.ask_async(c, name)
    assert second.answer[-1] == rr(f"web.{T}", "A", "10.96.0.22")
    # And when the ExternalName itself changes.
    c.apply(external("ext-in", f"dual.{T}"), at=k.T0 + 6)
    third = await k.ask_async(c, name)
    assert third.answer == [rr(name, "CNAME", f"dual.{T}"), rr(f"dual.{T}", "A", "10.96.0.30")]

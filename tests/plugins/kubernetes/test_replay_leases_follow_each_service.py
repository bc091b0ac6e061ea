"""Replies kept for replay (``kdns.replay``) are leased per pre-rendered entry: a store change
ends the leases of exactly the answers built from what changed."""

from __future__ import annotations

from kdns import replay, wire
from kdns.pkg import fall
from tests.plugins.kubernetes.test_answers_stay_fresh import T, service_named
from tests.support import cluster as k


def _answer(c: k.Cluster, name: str, qtype: str = "A") -> wire.Answer:
    answer = c.handler.serve(k.request(name, qtype))
    assert type(answer) is wire.Answer and answer.lease is not None
    return answer


def test_a_change_to_one_service_ends_only_the_replies_built_from_it() -> None:
    c = k.build()
    web, dual, single = (_answer(c, f"{n}.{T}") for n in ("web", "dual", "single"))
    c.delete(service_named("web"), at=k.T0)  # same second: the SOA serial stays
    assert web.lease is not None and not web.lease.alive
    assert dual.lease is not None and dual.lease.alive
    assert single.lease is not None and single.lease.alive
    assert _answer(c, f"web.{T}").rcode == wire.NXDOMAIN


def test_answers_holding_the_soa_serial_end_when_the_serial_moves() -> None:
    c = k.build()
    missing = _answer(c, f"nope.{T}")
    web = _answer(c, f"web.{T}")
    assert missing.rcode == wire.NXDOMAIN
    c.delete(service_named("lonely"), at=k.T0)
    assert missing.lease is not None and missing.lease.alive  # same serial: same bytes
    c.delete(service_named("single"), at=k.T0 + 1)
    assert missing.lease is not None and not missing.lease.alive
    assert web.lease is not None and web.lease.alive
    again = _answer(c, f"nope.{T}")
    assert again.lease is not None and again.lease.alive and again.body != missing.body


class _Fixed:
    name = "fixed"

    def __init__(self, answer: wire.Answer) -> None:
        self.answer = answer

    def serve(self, req: object) -> wire.Answer:
        return self.answer


def test_what_falls_through_is_kept_only_until_the_store_changes() -> None:
    c = k.build(fallthrough=fall.Fall(("cluster.local.",)))
    c.handler.next = _Fixed(wire.Answer(rcode=wire.NOERROR, body=b"", lease=replay.PURE))
    passed = c.handler.serve(k.request(f"nope.{T}", "A"))
    assert type(passed) is wire.Answer and passed.lease is not None and passed.lease.alive
    c.delete(service_named("lonely"), at=k.T0)
    assert not passed.lease.alive


def test_names_a_client_makes_up_add_no_leases() -> None:
    c = k.build(fallthrough=fall.Fall(("cluster.local.",)))
    c.handler.next = _Fixed(wire.Answer(rcode=wire.NOERROR, body=b"", lease=replay.PURE))
    leases = set()
    for i in range(1000):
        passed = c.handler.serve(k.request(f"made-up-{i}.{T}", "A"))
        assert type(passed) is wire.Answer and passed.lease is not None
        leases.add(id(passed.lease))
    assert len(leases) == 1  # every fall-through shares the store's lease

"""Requirement 10 of USER-NEEDS: a failed query starts ``. IN NS`` health checks every
``health_check`` interval; ``max_fails`` failures in a row mark the upstream down, so queries skip
it; the first reply brings it back (the old proxy plugin never rechecked, coredns/coredns#2427).
When every upstream is down, a random one is tried anyway, or with
``failfast_all_unhealthy_upstreams`` the answer is SERVFAIL at once (coredns/coredns#6999).
Upstream health never touches ``/health`` (coredns/coredns#1474).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support import children, kdnsproc
from tests.support.upstream import FakeUpstream, free_port

#: CoreDNS's default interval, which this test keeps.
INTERVAL = 0.5


@pytest.fixture
def primary() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.answers[("who.example.", "A")] = ["192.0.2.1"]
        yield up


@pytest.fixture
def backup() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.answers[("who.example.", "A")] = ["192.0.2.2"]
        yield up


def who(port: int) -> str:
    return children.addresses(children.query(port, "who.example"))[0]


def health_ok(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
        return bool(response.status == 200)


def test_a_dead_upstream_is_marked_down_skipped_and_back_within_two_intervals(
    primary: FakeUpstream, backup: FakeUpstream
) -> None:
    health = free_port()
    corefile = f""".:{{port}} {{
    health 127.0.0.1:{health}
    forward . 127.0.0.1:{primary.port} 127.0.0.1:{backup.port} {{
        policy sequential
    }}
}}
"""
    with children.serve(corefile) as srv:
        assert who(srv.port) == "192.0.2.1"
        primary.pause()
        # The refused query fails over at once and starts the checks; two failed checks later
        # (one interval apart) the primary is down.
        assert who(srv.port) == "192.0.2.2"
        down = srv.proc.wait_for_line(f"upstream 127.0.0.1:{primary.port} is down", timeout=3)
        assert down == (
            f"[WARNING] plugin/forward: upstream 127.0.0.1:{primary.port} "
            "is down after 2 failed health checks"
        )
        assert health_ok(health), "/health does not care about upstreams"
        start = time.monotonic()
        assert who(srv.port) == "192.0.2.2"
        assert time.monotonic() - start < 0.2, "a down upstream is skipped, not tried"

        primary.resume()
        resumed = time.monotonic()
        while who(srv.port) != "192.0.2.1":
            assert time.monotonic() - resumed < 2 * INTERVAL + 0.3, "not back in 2 intervals"
            time.sleep(0.02)
        srv.proc.wait_for_line(f"upstream 127.0.0.1:{primary.port} is healthy again")
        probes = [q for q in primary.queries if q.qtype == "NS"]
        assert probes and all(q.name == "." and q.rd for q in probes), "`. IN NS`, RD set"


def test_health_check_no_rec_and_domain_shape_the_probe() -> None:
    with FakeUpstream() as up:
        up.blackhole = True
        corefile = f""".:{{port}} {{
    forward . 127.0.0.1:{up.port} {{
        health_check 100ms no_rec domain Probe.Example.
        read_timeout 200ms
    }}
}}
"""
        with children.serve(corefile) as srv:
            children.query(srv.port, "x.example")
            up.wait_for(lambda: sum(q.qtype == "NS" for q in up.queries) >= 2, timeout=5)
        probes = [q for q in up.queries if q.qtype == "NS"]
        assert all(q.name == "probe.example." and not q.rd for q in probes)
        assert all(q.transport == "udp" for q in probes)


def test_no_health_checks_while_queries_succeed(primary: FakeUpstream) -> None:
    corefile = f".:{{port}} {{\n    forward . 127.0.0.1:{primary.port}\n}}\n"
    with children.serve(corefile) as srv:
        for _ in range(5):
            who(srv.port)
        time.sleep(2 * INTERVAL)
    assert [q.qtype for q in primary.queries] == ["A"] * 5


def forward_to(up: FakeUpstream, extra: str = "") -> str:
    return f""".:{{port}} {{
    errors
    forward . 127.0.0.1:{up.port} {{
        health_check 100ms
        read_timeout 300ms
        {extra}
    }}
}}
"""


def mark_down(up: FakeUpstream, srv: kdnsproc.Server) -> None:
    """Close the upstream's port so one query and two quick checks mark it down, then let it
    listen again without answering, so it stays down but records what it is sent."""
    up.pause()
    assert children.rcode(children.query(srv.port, "a.example")) == "SERVFAIL"
    srv.proc.wait_for_line(f"upstream 127.0.0.1:{up.port} is down", timeout=5)
    up.blackhole = True
    up.resume()


def test_failfast_answers_servfail_at_once_when_all_are_down() -> None:
    with (
        FakeUpstream() as up,
        children.serve(forward_to(up, "failfast_all_unhealthy_upstreams")) as srv,
    ):
        mark_down(up, srv)
        reply, took = children.timed_query(srv.port, "b.example")
        assert children.rcode(reply) == "SERVFAIL"
        assert took < 0.2
        srv.proc.wait_for_line("[ERROR] plugin/errors: 2 b.example. A: no healthy proxies")
        assert "b.example." not in up.names()


def test_without_failfast_a_random_upstream_is_tried_when_all_are_down() -> None:
    with FakeUpstream() as up, children.serve(forward_to(up)) as srv:
        mark_down(up, srv)
        reply, took = children.timed_query(srv.port, "b.example")
        assert children.rcode(reply) == "SERVFAIL"
        assert took >= 0.3, "the down upstream was asked anyway"
        assert "b.example." in up.names()

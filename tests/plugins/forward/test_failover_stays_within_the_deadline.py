"""Requirement 9 of USER-NEEDS: each upstream gets at most ``read_timeout`` (2 s), the query at
most 5 s in all; on a timeout or error the next upstream is tried, and only when every attempt
failed is the answer SERVFAIL, logged as CoreDNS logs it:
``[ERROR] plugin/errors: 2 NAME. TYPE: read udp SRC->DST: i/o timeout``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import dns.rcode
import pytest

from tests.support import children
from tests.support.upstream import FakeUpstream, free_port


@pytest.fixture
def good() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture
def blackhole() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.blackhole = True
        yield up


def corefile(*ports: int, options: str = "policy sequential") -> str:
    upstreams = " ".join(f"127.0.0.1:{p}" for p in ports)
    return f""".:{{port}} {{
    errors
    forward . {upstreams} {{
        {options}
    }}
}}
"""


def test_a_refused_upstream_fails_over_at_once(good: FakeUpstream) -> None:
    closed = free_port()
    with children.serve(corefile(closed, good.port)) as srv:
        reply, took = children.timed_query(srv.port, "www.example.net")
    assert children.addresses(reply) == ["192.0.2.1"]
    assert took < 0.5


def test_a_blackhole_costs_one_read_timeout_then_the_next_answers(
    blackhole: FakeUpstream, good: FakeUpstream
) -> None:
    with children.serve(corefile(blackhole.port, good.port)) as srv:
        reply, took = children.timed_query(srv.port, "slow.example.net")
        assert children.rcode(reply) == "NOERROR"
        assert children.addresses(reply) == ["192.0.2.1"]
        assert 2.0 <= took <= 3.5
        assert blackhole.names()[0] == "slow.example.net."


def test_read_timeout_shortens_the_wait(blackhole: FakeUpstream, good: FakeUpstream) -> None:
    options = "policy sequential\n        read_timeout 300ms"
    with children.serve(corefile(blackhole.port, good.port, options=options)) as srv:
        reply, took = children.timed_query(srv.port, "quick.example.net")
    assert children.addresses(reply) == ["192.0.2.1"]
    assert 0.3 <= took <= 1.0


def test_two_blackholes_give_servfail_within_the_deadline_and_log_it() -> None:
    with FakeUpstream() as first, FakeUpstream() as second:
        first.blackhole = second.blackhole = True
        with children.serve(corefile(first.port, second.port)) as srv:
            reply, took = children.timed_query(srv.port, "Dead.Example.NET", "AAAA")
            assert children.rcode(reply) == "SERVFAIL"
            assert 4.5 <= took <= 5.5
            # The errors plugin prints the name lower-cased, as CoreDNS's request.Name() is.
            line = srv.proc.wait_for_line("[ERROR] plugin/errors: 2 dead.example.net. AAAA:")
        assert re.fullmatch(
            r"\[ERROR\] plugin/errors: 2 dead\.example\.net\. AAAA: "
            r"read udp 127\.0\.0\.1:\d+->127\.0\.0\.1:(\d+): i/o timeout",
            line,
        ), line
        assert int(line.rsplit(":", 2)[1]) in (first.port, second.port)
        # Sequential: first, second, then first again with the 1 s left.
        assert [first.names()[0], second.names()[0]] == ["Dead.Example.NET."] * 2


def test_only_refusing_upstreams_give_servfail_quickly() -> None:
    closed = free_port()
    with children.serve(corefile(closed)) as srv:
        reply, took = children.timed_query(srv.port, "nobody.example.net")
        assert children.rcode(reply) == "SERVFAIL"
        assert took < 1.0
        line = srv.proc.wait_for_line("[ERROR] plugin/errors: 2 nobody.example.net. A:")
    assert line.endswith(f"->127.0.0.1:{closed}: read: connection refused")


def test_servfail_from_the_upstream_is_passed_on_not_retried(good: FakeUpstream) -> None:
    good.rcode = dns.rcode.SERVFAIL
    with FakeUpstream() as other:
        with children.serve(corefile(good.port, other.port)) as srv:
            reply, took = children.timed_query(srv.port, "sf.example.net")
        assert children.rcode(reply) == "SERVFAIL"
        assert took < 0.5
        assert other.count == 0, "an answer is an answer, whatever its rcode"
        assert "plugin/errors" not in srv.proc.output, "a written reply is not an error"

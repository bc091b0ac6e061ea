"""Requirement 4 of USER-NEEDS: every UDP query upstream leaves from a fresh random source port
with a random ID, and only a reply with that ID, from the upstream's own address and port, for
the same question, is taken; spoofed or stray replies are ignored and the wait goes on.

Reusing a 5-tuple reuses its conntrack entry on every NAT on the way, the root of the 5-second
timeouts (kubernetes/kubernetes#56903); a predictable port or ID invites cache poisoning.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.message
import pytest

from tests.support import children, kdnsproc
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def server(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    with children.serve(f".:{{port}} {{\n    forward . 127.0.0.1:{upstream.port}\n}}\n") as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh(upstream: FakeUpstream) -> Iterator[None]:
    upstream.reset()
    yield
    upstream.wrong_id_first = upstream.wrong_port_first = upstream.wrong_question_first = False


def test_a_thousand_queries_use_a_thousand_source_ports(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        for i in range(1000):
            sock.sendto(
                dns.message.make_query(f"q{i}.example", "A").to_wire(), (children.HOST, server.port)
            )
            sock.recv(4096)
    ports = [q.port for q in upstream.queries]
    assert len(ports) == 1000
    assert len(set(ports)) == 1000
    assert len({q.id for q in upstream.queries}) > 980, "IDs are random too"
    # Drawn across the ephemeral range, not counted up from one point.
    assert max(ports) - min(ports) > 10000


def test_a_reply_with_the_wrong_id_is_ignored(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    upstream.wrong_id_first = True
    reply = children.query(server.port, "www.example.net", "A")
    assert children.addresses(reply) == ["192.0.2.1"]
    assert upstream.count == 1, "no retry: the real reply was still awaited"


def test_a_reply_from_the_wrong_port_is_ignored(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    # The spoof carries the right ID and question but address 203.0.113.66, from another port.
    upstream.wrong_port_first = True
    reply = children.query(server.port, "www.example.net", "A")
    assert children.addresses(reply) == ["192.0.2.1"]


def test_a_reply_for_another_question_is_ignored(
    server: kdnsproc.Server, upstream: FakeUpstream
) -> None:
    upstream.wrong_question_first = True
    reply = children.query(server.port, "www.example.net", "A")
    assert children.addresses(reply) == ["192.0.2.1"]
    assert reply.question[0].name.to_text() == "www.example.net."


def test_all_spoofs_at_once_over_tcp_too(server: kdnsproc.Server, upstream: FakeUpstream) -> None:
    upstream.wrong_id_first = upstream.wrong_port_first = upstream.wrong_question_first = True
    assert children.addresses(children.query(server.port, "a.example.net")) == ["192.0.2.1"]
    reply = children.query(server.port, "b.example.net", tcp=True)
    assert children.addresses(reply) == ["192.0.2.1"]

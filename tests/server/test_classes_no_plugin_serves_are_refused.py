"""A query of a class no plugin of its server block serves is REFUSED by the server itself.

Every block serves class IN; ``chaos`` adds CH. A CH or HS query for a name of a block without
``chaos`` never walks the chain (so it is not forwarded upstream, nor answered SERVFAIL when the
chain runs out), and a CH query ``chaos`` does not know is refused by ``chaos`` rather than
handed to plugins that serve IN only.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import pytest

from kdns import plugin, wire
from kdns.plugins.chaos.handler import Chaos
from kdns.request import Request
from kdns.server import dispatch
from kdns.server.zones import Route, ZoneTable
from tests.support import clients, kdnsproc
from tests.support.upstream import FakeUpstream

COREFILE = """\
example.test:{port} {
    bind 127.0.0.1
    errors
    records example.test.yaml
    forward . 127.0.0.1:UPSTREAM
}
.:{port} {
    bind 127.0.0.1
    errors
    chaos kdns-test
    whoami
}
"""

ZONE = "zone: example.test\nrecords:\n  www: {A: 192.0.2.80}\n"

CH, HS, NONE, ANY = 3, 4, 254, 255


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def server(upstream: FakeUpstream) -> Iterator[kdnsproc.Server]:
    corefile = COREFILE.replace("UPSTREAM", str(upstream.port))
    with clients.serve(corefile, files={"example.test.yaml": ZONE}) as srv:
        yield srv


def ask(server: kdnsproc.Server, name: str, rdtype: str, rdclass: int) -> int:
    query = clients.make_query(name, rdtype, rdclass)
    reply = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=3)
    return reply.rcode()


@pytest.mark.parametrize("rdclass", [CH, HS, NONE, ANY])
@pytest.mark.parametrize("name", ["www.example.test.", "elsewhere.example.test."])
def test_a_block_without_chaos_refuses_other_classes(
    server: kdnsproc.Server, upstream: FakeUpstream, name: str, rdclass: int
) -> None:
    upstream.reset()
    assert ask(server, name, "A", rdclass) == dns.rcode.REFUSED
    assert ask(server, name, "TXT", rdclass) == dns.rcode.REFUSED
    assert upstream.count == 0, "a query of another class went upstream"
    assert "[ERROR]" not in server.proc.output


def test_in_is_served_as_before(server: kdnsproc.Server) -> None:
    reply = server.query("www.example.test.", "A")
    assert [rr.to_text() for rrset in reply.answer for rr in rrset] == ["192.0.2.80"]
    assert server.query("other.example.test.", "A").rcode() == dns.rcode.NXDOMAIN
    assert server.query("whoami.test.", "A").rcode() == dns.rcode.NOERROR


def test_chaos_answers_what_it_knows_and_refuses_the_rest(
    server: kdnsproc.Server,
) -> None:
    reply = server.query("version.bind.", "TXT", rdclass="CH")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer[0][0].strings == (b"kdns-test",)
    # whoami, after chaos, serves IN only: it never sees these.
    assert ask(server, "unknown.bind.", "TXT", CH) == dns.rcode.REFUSED
    assert ask(server, "version.bind.", "A", CH) == dns.rcode.REFUSED
    assert ask(server, "version.bind.", "TXT", HS) == dns.rcode.REFUSED


class Counting:
    """A last link that counts the queries reaching it."""

    name = "counting"

    def __init__(self) -> None:
        self.seen = 0

    def serve(self, req: Request) -> plugin.Result:
        self.seen += 1
        return wire.Answer.failure(wire.SERVFAIL, "reached")


def query(name: str, qclass: int) -> bytes:
    return clients.make_query(name, "TXT", qclass).to_wire()


def test_the_classes_of_a_route_are_computed_once_from_its_chain() -> None:
    last = Counting()
    plain = Route.of("example.test.", last, "dns://:53")
    with_chaos = Route.of(".", Chaos(last, version="v", authors=("a",)), "dns://:53")
    assert plain.classes == frozenset({wire.CLASS_IN})
    assert with_chaos.classes == frozenset({wire.CLASS_IN, wire.CLASS_CH})
    table = ZoneTable([plain, with_chaos])
    remote = ("127.0.0.1", 5300)
    for qclass in (CH, HS, ANY):
        reply = dispatch.handle(table, query("a.example.test.", qclass), "udp", remote)
        assert isinstance(reply, bytes) and reply[3] & 0x0F == wire.REFUSED
    assert last.seen == 0, "the chain was walked for a class it does not serve"
    reply = dispatch.handle(table, query("version.bind.", CH), "udp", remote)
    assert isinstance(reply, bytes) and reply[3] & 0x0F == wire.NOERROR
    reply = dispatch.handle(table, query("a.example.test.", wire.CLASS_IN), "udp", remote)
    assert last.seen == 1

"""Server block selection, as CoreDNS's ``Server.ServeDNS``: the longest zone suffix of the
lower-cased name, walking label by label, then ``.``; each port has its own set of zones.

Each block tags its log lines (``log . "block=NAME ..."``), so the tests see which block took a
query, not only what came back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import dns.rcode
import pytest

from tests.support import clients, kdnsproc

COREFILE = """\
example.org {
    log . "block=example {name} {rcode}"
    whoami
}
sub.example.org {
    log . "block=sub {name} {rcode}"
    chaos
}
dns://prefixed.test {
    log . "block=prefixed {name} {rcode}"
    whoami
}
. {
    log . "block=root {name} {rcode}"
}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        yield srv


def block_of(server: kdnsproc.Server, name: str, *, after: int) -> str:
    """The block that logged ``name`` in a line past index ``after`` of the output."""
    # {name} is the lower-cased question name, as CoreDNS's request.Name().
    pattern = re.compile(rf"^\[INFO\] block=(\w+) {re.escape(name.lower())} ")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in server.proc.lines[after:]:
            match = pattern.match(line)
            if match:
                return match.group(1)
        time.sleep(0.01)
    raise AssertionError(f"no log line for {name}:\n{server.proc.output[-2000:]}")


@pytest.mark.parametrize(
    ("name", "block", "rcode"),
    [
        # whoami answers in example.org's block.
        ("host1.example.org.", "example", dns.rcode.NOERROR),
        ("example.org.", "example", dns.rcode.NOERROR),
        # sub.example.org is longer; its chain (chaos alone) runs out: SERVFAIL.
        ("sub.example.org.", "sub", dns.rcode.SERVFAIL),
        ("deep.er.sub.example.org.", "sub", dns.rcode.SERVFAIL),
        # Not a label boundary: "xsub" is a label of example.org.
        ("xsub.example.org.", "example", dns.rcode.NOERROR),
        # Matching is case-insensitive.
        ("HoSt2.SuB.ExAmPlE.OrG.", "sub", dns.rcode.SERVFAIL),
        ("HoSt3.ExAmPlE.OrG.", "example", dns.rcode.NOERROR),
        # The dns:// scheme names the same zone.
        ("a.prefixed.test.", "prefixed", dns.rcode.NOERROR),
        # Everything else falls to ".", whose chain is empty.
        ("example.com.", "root", dns.rcode.SERVFAIL),
        ("org.", "root", dns.rcode.SERVFAIL),
    ],
)
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_longest_zone_takes_the_query(
    server: kdnsproc.Server, name: str, block: str, rcode: int, tcp: bool
) -> None:
    before = len(server.proc.lines)
    reply = server.query(name, "A", tcp=tcp)
    assert reply.rcode() == rcode
    assert block_of(server, name, after=before) == block


def test_the_root_block_catches_names_outside_every_zone_only_once(
    server: kdnsproc.Server,
) -> None:
    before = len(server.proc.lines)
    reply = server.query("only-root.example.net.", "A")
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert block_of(server, "only-root.example.net.", after=before) == "root"
    lines = [line for line in server.proc.lines if "only-root.example.net." in line]
    assert len(lines) == 1, lines


def test_blocks_on_two_ports_serve_their_own_zones(dig: str) -> None:
    port2 = clients.second_port()
    corefile = f"a.test:{{port}} {{\n    whoami\n}}\nb.test:{port2} {{\n    whoami\n}}\n"
    with clients.serve(corefile) as srv:
        # Listener lines are printed once every listener is open; the start probe saw one port.
        assert srv.proc.wait_for_line(f"b.test.:{port2}")
        assert srv.proc.wait_for_line(f"a.test.:{srv.port}")
        assert srv.query("x.a.test.").rcode() == dns.rcode.NOERROR
        assert srv.query("x.b.test.").rcode() == dns.rcode.REFUSED
        other = kdnsproc.Server(srv.proc, port2)
        assert other.query("x.b.test.").rcode() == dns.rcode.NOERROR
        assert other.query("x.b.test.", tcp=True).rcode() == dns.rcode.NOERROR
        assert other.query("x.a.test.").rcode() == dns.rcode.REFUSED
        result = clients.run_dig(dig, port2, "x.b.test", "+noall", "+comments")
        assert "status: NOERROR" in result.stdout, result.stdout


def test_a_wildcard_block_and_a_bound_block_share_a_port() -> None:
    corefile = "wild.test {\n    whoami\n}\nbound.test {\n    bind 127.0.0.1\n    whoami\n}\n"
    with clients.serve(corefile) as srv:
        for tcp in (False, True):
            assert srv.query("x.bound.test.", tcp=tcp).rcode() == dns.rcode.NOERROR
            # 127.0.0.2 reaches only the wildcard listener.
            other = kdnsproc.Server(srv.proc, srv.port, "127.0.0.2")
            assert other.query("x.wild.test.", tcp=tcp).rcode() == dns.rcode.NOERROR

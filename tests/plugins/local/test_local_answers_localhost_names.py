"""``local``: localhost and the loopback reverse zones never leave the server (RFC 6761)."""

from __future__ import annotations

from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import pytest

from kdns.errors import CorefileError
from tests.support import clients, kdnsproc, seam

COREFILE = ".:{port} {\n    bind 127.0.0.1\n    local\n    whoami\n}\n"
SOA = "localhost. root.localhost. 1 0 0 0 604800"


@pytest.fixture(scope="module")
def srv() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as server:
        yield server


def texts(section: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f"{r.name} {r.ttl} {r.rdtype.name} {rr}" for r in section for rr in r)


@pytest.mark.parametrize(
    ("name", "qtype", "answer"),
    [
        ("localhost.", "A", "localhost. 604800 A 127.0.0.1"),
        ("LocalHost.", "AAAA", "LocalHost. 604800 AAAA ::1"),
        ("localhost.", "NS", "localhost. 604800 NS localhost."),
        ("localhost.", "SOA", f"localhost. 604800 SOA {SOA}"),
        ("a.b.localhost.", "A", "a.b.localhost. 604800 A 127.0.0.1"),
        ("localhost.example.net.", "AAAA", "localhost.example.net. 604800 AAAA ::1"),
        ("1.0.0.127.in-addr.arpa.", "PTR", "1.0.0.127.in-addr.arpa. 604800 PTR localhost."),
        ("127.in-addr.arpa.", "NS", "127.in-addr.arpa. 604800 NS localhost."),
    ],
)
def test_positive_answers(srv: kdnsproc.Server, name: str, qtype: str, answer: str) -> None:
    reply = srv.query(name, qtype)
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA
    assert texts(reply.answer) == [answer]


@pytest.mark.parametrize(
    ("name", "qtype", "rcode", "soa_owner"),
    [
        ("localhost.", "MX", dns.rcode.NOERROR, "localhost."),
        ("x.localhost.", "TXT", dns.rcode.NOERROR, "x.localhost."),
        ("0.in-addr.arpa.", "A", dns.rcode.NOERROR, "0.in-addr.arpa."),
        ("1.0.0.127.in-addr.arpa.", "A", dns.rcode.NOERROR, "127.in-addr.arpa."),
        ("2.0.0.127.in-addr.arpa.", "PTR", dns.rcode.NXDOMAIN, "127.in-addr.arpa."),
        ("9.255.in-addr.arpa.", "PTR", dns.rcode.NXDOMAIN, "255.in-addr.arpa."),
    ],
)
def test_negative_answers_carry_the_soa(
    srv: kdnsproc.Server, name: str, qtype: str, rcode: int, soa_owner: str
) -> None:
    reply = srv.query(name, qtype)
    assert reply.rcode() == rcode
    assert not reply.answer
    assert texts(reply.authority) == [f"{soa_owner} 604800 SOA {SOA}"]


@pytest.mark.parametrize(
    "name", ["example.net.", "mylocalhost.", "1.0.0.128.in-addr.arpa.", "x.ip6.arpa."]
)
def test_other_names_go_to_the_next_plugin(srv: kdnsproc.Server, name: str) -> None:
    reply = srv.query(name, "A")
    assert reply.additional, "whoami, the next plugin, answers in the additional section"


def test_a_label_ending_in_localhost_bytes_is_not_below_localhost(srv: kdnsproc.Server) -> None:
    # One label "a\tlocalhost": its last bytes look like the wire form of "localhost".
    reply = srv.query("a\\009localhost.", "A")
    assert not reply.answer and reply.additional


def test_localhost_prefix_off_passes_the_legacy_form_on() -> None:
    text = ".:{port} {\n    bind 127.0.0.1\n    local {\n        localhost_prefix off\n    }\n    whoami\n}\n"
    with clients.serve(text) as srv:
        assert not srv.query("localhost.example.net.", "A").answer
        assert texts(srv.query("x.localhost.", "A").answer) == ["x.localhost. 604800 A 127.0.0.1"]


@pytest.mark.parametrize(
    "block", ["local foo", "local {\n    localhost_prefix maybe\n}", "local {\n    other on\n}"]
)
def test_setup_errors_name_the_line(block: str) -> None:
    with pytest.raises(
        CorefileError, match=r"^plugin/local: /etc/Corefile:\d+ - Error during parsing"
    ):
        seam.load(f". {{\n    {block}\n}}\n", filename="/etc/Corefile")

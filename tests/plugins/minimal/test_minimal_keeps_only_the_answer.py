"""``minimal``: positive replies lose authority and additional; everything else is untouched."""

from __future__ import annotations

import dns.rcode
import pytest

from kdns import wire
from kdns.errors import CorefileError
from kdns.plugins.minimal.handler import Minimal
from tests.support import clients, seam

NAME = "www.example.org."
A = f"{NAME} 300 IN A 192.0.2.1"
NS = "example.org. 300 IN NS ns1.example.org."
GLUE = "ns1.example.org. 300 IN A 192.0.2.53"


def served(upstream: wire.Answer, qtype: str = "A") -> dns.message.Message:
    req = seam.request(NAME, qtype, edns=True)
    answer = Minimal(seam.Next(upstream)).serve(req)
    assert isinstance(answer, wire.Answer)
    return seam.reply(req, answer)


def test_a_positive_reply_keeps_its_answer_only() -> None:
    reply = served(seam.answer(NAME, "A", [A], authority=[NS], additional=[GLUE]))
    assert [rr.to_text() for rr in reply.answer] == [A]
    assert not reply.authority and not reply.additional
    assert reply.edns == 0, "the client's OPT is added back"


@pytest.mark.parametrize(
    "upstream",
    [
        seam.answer(NAME, "A", rcode=wire.NXDOMAIN, authority=[seam.soa("example.org.")]),
        seam.answer(NAME, "A", authority=[seam.soa("example.org.")]),
        seam.answer(NAME, "A", authority=[NS], additional=[GLUE]),
    ],
    ids=["nxdomain", "nodata", "delegation"],
)
def test_negative_replies_and_referrals_are_unchanged(upstream: wire.Answer) -> None:
    reply = served(upstream)
    assert reply.authority, "the SOA or the NS records stay"
    assert (reply.rcode(), len(reply.additional)) == (
        upstream.rcode,
        upstream.arcount,
    )


def test_errors_the_server_writes_pass_through() -> None:
    failure = wire.Answer.failure(wire.SERVFAIL, "upstream gone")
    assert Minimal(seam.Next(failure)).serve(seam.request(NAME)) is failure


def test_a_static_answer_is_cut_once() -> None:
    upstream = seam.answer(NAME, "A", [A], authority=[NS], additional=[GLUE])
    plugin = Minimal(seam.Next(upstream))
    first = plugin.serve(seam.request(NAME))
    assert plugin.serve(seam.request(NAME)) is first


def test_whoami_behind_minimal_loses_its_records_as_in_coredns() -> None:
    corefile = "example.test:{port} {\n    bind 127.0.0.1\n    minimal\n    whoami\n}\n"
    with clients.serve(corefile) as srv:
        reply = srv.query("whoami.example.test.", "A")
        assert reply.rcode() == dns.rcode.NOERROR
        assert not reply.answer and not reply.additional


def test_minimal_takes_no_arguments() -> None:
    with pytest.raises(CorefileError, match=r"^plugin/minimal: Corefile:2 - Error"):
        seam.load("example.test {\n    minimal yes\n}\n")

"""What kdns sends upstream, which replies it believes, and how a reply becomes an ``Answer``.

The query carries the client's question byte for byte; a reply is believed only with the query's
ID, QR set and the same question (any letter case). The answer keeps the upstream's flags and
records, loses the upstream's OPT (the server writes its own), takes the extended rcode from it,
and a reply whose records cannot be read becomes an empty TC=1 reply (coredns/coredns#5953).
"""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from kdns import wire
from kdns.pkg.upstream import message
from kdns.pkg.upstream.message import Verdict


def client_query(name: str = "WwW.Example.ORG.", rdtype: str = "A", **kw: object) -> wire.Query:
    q = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    return wire.Query(q.to_wire())


def upstream_view(template: bytes, qid: int = 0x1234) -> dns.message.Message:
    return dns.message.from_wire(message.with_id(qid, template))


def reply_to(template: bytes, qid: int, **records: list[str]) -> dns.message.Message:
    query = upstream_view(template, qid)
    reply = dns.message.make_response(query, recursion_available=True)
    for section, texts in records.items():
        for text in texts:
            name, ttl, rdclass, rdtype, rdata = text.split(maxsplit=4)
            rrset = dns.rrset.from_text(name, int(ttl), rdclass, rdtype, rdata)
            getattr(reply, section).append(rrset)
    return reply


def finalize(q: wire.Query, answer: wire.Answer, limit: int = 65535) -> dns.message.Message:
    return dns.message.from_wire(wire.finalize(q, answer, limit))


def test_the_client_question_goes_upstream_as_written() -> None:
    q = client_query(want_dnssec=True, use_edns=0, payload=4096)
    sent = upstream_view(message.from_client(q))
    assert sent.question[0].name.to_text() == "WwW.Example.ORG."
    assert sent.flags & dns.flags.RD
    assert sent.edns == 0
    assert sent.payload == 1232, "kdns advertises its own buffer, not the client's"
    assert sent.ednsflags & dns.flags.DO


def test_no_edns_upstream_when_the_client_sent_none() -> None:
    sent = upstream_view(message.from_client(client_query()))
    assert sent.edns == -1
    assert not sent.additional


def test_only_a_reply_with_our_id_and_question_is_believed() -> None:
    template = message.from_client(client_query())
    question = message.question_of(template)
    good = reply_to(template, 7, answer=["www.example.org. 60 IN A 192.0.2.1"]).to_wire()
    assert message.check(good, 7, question) is Verdict.ACCEPT
    assert message.check(good, 8, question) is Verdict.IGNORE
    other = dns.message.make_response(dns.message.make_query("other.example.", "A"))
    other.id = 7
    assert message.check(other.to_wire(), 7, question) is Verdict.IGNORE
    other_type = dns.message.make_response(dns.message.make_query("www.example.org.", "AAAA"))
    other_type.id = 7
    assert message.check(other_type.to_wire(), 7, question) is Verdict.IGNORE
    not_a_response = message.with_id(7, template)
    assert message.check(not_a_response, 7, question) is Verdict.IGNORE
    assert message.check(good[:11], 7, question) is Verdict.IGNORE


def test_a_reply_in_another_letter_case_is_believed() -> None:
    template = message.from_client(client_query("MiXeD.example."))
    reply = dns.message.make_response(dns.message.make_query("mixed.EXAMPLE.", "A"))
    reply.id = 9
    assert message.check(reply.to_wire(), 9, message.question_of(template)) is Verdict.ACCEPT


def test_the_answer_keeps_records_and_flags_and_drops_the_upstream_opt() -> None:
    q = client_query(use_edns=0, want_dnssec=True)
    template = message.from_client(q)
    reply = reply_to(
        template,
        1,
        answer=[
            "WwW.Example.ORG. 60 IN CNAME target.example.org.",
            "target.example.org. 60 IN A 192.0.2.7",
        ],
        authority=["example.org. 60 IN NS ns.example.org."],
        additional=["ns.example.org. 60 IN A 192.0.2.53"],
    )
    reply.use_edns(0, dns.flags.DO, 4096)
    reply.flags |= dns.flags.AD
    data = reply.to_wire()
    answer = message.to_answer(data, message.check(data, 1, message.question_of(template)))
    assert (answer.ancount, answer.nscount, answer.arcount) == (2, 1, 1)
    assert len(answer.ends) == 4 and answer.ends[-1] == len(answer.body or b"")
    assert answer.flags & (wire.RA | wire.AD)
    assert not answer.flags & (wire.RD << 8), "RD comes from the client at finalize"
    out = finalize(q, answer)
    assert out.question[0].name.to_text() == "WwW.Example.ORG.", "the client's case comes back"
    # Names compressed against the question take the client's case (as in CoreDNS, where the
    # upstream echoes the question it was sent).
    assert [r.to_text().lower() for r in out.answer] == [
        "www.example.org. 60 in cname target.example.org.",
        "target.example.org. 60 in a 192.0.2.7",
    ]
    assert out.edns == 0 and out.payload == 1232, "one OPT: the server's own"
    assert len(out.additional) == 1


def test_extended_rcode_comes_from_the_opt() -> None:
    template = message.from_client(client_query(use_edns=0))
    reply = reply_to(template, 1)
    reply.use_edns(0, 0, 1232)
    reply.set_rcode(dns.rcode.BADVERS)
    data = reply.to_wire()
    assert message.to_answer(data).rcode == wire.BADVERS


def test_servfail_and_nxdomain_pass_through_as_replies() -> None:
    template = message.from_client(client_query())
    for code in (wire.SERVFAIL, wire.NXDOMAIN, wire.REFUSED):
        reply = reply_to(template, 1)
        reply.set_rcode(dns.rcode.Rcode(code))
        answer = message.to_answer(reply.to_wire())
        assert answer.rcode == code
        assert answer.body == b"", "a written reply, not an error for the server to write"


def test_garbage_after_the_header_becomes_an_empty_truncated_reply() -> None:
    q = client_query()
    template = message.from_client(q)
    garbage = bytes.fromhex("0001 8180 0001 0001 0000 0000") + b"\xff\xfe junk"
    verdict = message.check(garbage, 1, message.question_of(template))
    assert verdict is Verdict.MALFORMED
    out = finalize(q, message.to_answer(garbage, verdict))
    assert out.flags & dns.flags.TC
    assert not out.answer


def test_records_that_run_past_the_end_become_an_empty_truncated_reply() -> None:
    q = client_query()
    template = message.from_client(q)
    data = reply_to(template, 1, answer=["www.example.org. 60 IN A 192.0.2.1"]).to_wire()
    cut = data[:-2]
    answer = message.to_answer(cut, message.check(cut, 1, message.question_of(template)))
    out = finalize(q, answer)
    assert out.flags & dns.flags.TC and not out.answer


def test_a_large_answer_is_cut_at_a_record_boundary_for_the_client() -> None:
    q = client_query("big.example.")
    template = message.from_client(q)
    reply = reply_to(template, 1)
    reply.answer.append(
        dns.rrset.from_text_list(
            "big.example.", 60, "IN", "A", [f"192.0.2.{i}" for i in range(1, 101)]
        )
    )
    answer = message.to_answer(reply.to_wire())
    out = finalize(q, answer, 512)
    assert out.flags & dns.flags.TC
    assert 0 < len(out.answer[0]) < 100
    assert len(wire.finalize(q, answer, 512)) <= 512

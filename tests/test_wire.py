"""The hot-path reader and reply splicing, checked against dnspython's full parser."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import dnslib
import pytest

from kdns import render, wire


def query(name: str = "web.example.test.", rdtype: str = "A", **kw: object) -> bytes:
    return dns.message.make_query(name, rdtype, **kw).to_wire()  # type: ignore[arg-type]


def test_reads_question_and_lowercases_key() -> None:
    q = wire.Query(query("WeB.ExAmPlE.tEsT.", "AAAA"))
    assert q.qtype == 28
    assert q.qclass == 1
    assert q.name == "web.example.test."
    assert q.original_name == "WeB.ExAmPlE.tEsT."
    assert q.key == b"\x03web\x07example\x04test\x00\x00\x1c\x00\x01"
    assert not q.edns
    assert q.udp_size == 512


def test_reads_edns_buffer_size_and_do_bit() -> None:
    q = wire.Query(query(use_edns=0, payload=4096, want_dnssec=True))
    assert q.edns and q.do
    assert q.udp_size == 4096


def test_edns_buffer_below_512_counts_as_512() -> None:
    assert wire.Query(query(use_edns=0, payload=100)).udp_size == 512


@pytest.mark.parametrize("data", [b"", b"\x00" * 11])
def test_shorter_than_header_is_dropped(data: bytes) -> None:
    with pytest.raises(wire.Drop):
        wire.Query(data)


def test_response_is_dropped() -> None:
    data = bytearray(query())
    data[2] |= wire.QR
    with pytest.raises(wire.Drop):
        wire.Query(bytes(data))


def reply_of(reject: pytest.ExceptionInfo[wire.Reject]) -> dns.message.Message:
    return dns.message.from_wire(reject.value.reply, ignore_trailing=True)


def test_non_query_opcode_is_notimp() -> None:
    msg = dns.message.make_query("example.test.", "A")
    msg.set_opcode(dns.opcode.NOTIFY)
    with pytest.raises(wire.Reject) as err:
        wire.Query(msg.to_wire())
    assert reply_of(err).rcode() == dns.rcode.NOTIMP
    assert reply_of(err).id == msg.id


@pytest.mark.parametrize("qdcount", [0, 2])
def test_question_count_other_than_one_is_formerr(qdcount: int) -> None:
    data = bytearray(query())
    struct.pack_into("!H", data, 4, qdcount)
    with pytest.raises(wire.Reject) as err:
        wire.Query(bytes(data))
    assert err.value.rcode == wire.FORMERR
    assert reply_of(err).rcode() == dns.rcode.FORMERR


def test_header_only_is_formerr() -> None:
    with pytest.raises(wire.Reject) as err:
        wire.Query(query()[:12])
    assert err.value.rcode == wire.FORMERR


def test_compressed_question_is_formerr() -> None:
    data = query()[:12] + b"\xc0\x0c\x00\x01\x00\x01"
    with pytest.raises(wire.Reject):
        wire.Query(data)


def test_edns_version_above_zero_is_badvers() -> None:
    with pytest.raises(wire.Reject) as err:
        wire.Query(query(use_edns=1))
    reply = reply_of(err)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.edns == 0


def test_truncated_opt_is_formerr_echoing_question() -> None:
    data = query(use_edns=0)[:-3]
    with pytest.raises(wire.Reject) as err:
        wire.Query(data)
    assert reply_of(err).question[0].name.to_text() == "web.example.test."


def many_a(n: int) -> wire.Answer:
    records = [
        dnslib.RR(
            "big.example.test.",
            dnslib.QTYPE.A,
            ttl=60,
            rdata=dnslib.A(f"10.0.{i // 256}.{i % 256}"),
        )
        for i in range(n)
    ]
    return render.answer("big.example.test.", dnslib.QTYPE.A, answer=records)


def test_finalize_echoes_id_case_rd_and_compresses_to_question() -> None:
    msg = dns.message.make_query("BiG.Example.TEST.", "A")
    msg.flags |= dns.flags.CD
    q = wire.Query(msg.to_wire())
    reply = dns.message.from_wire(wire.finalize(q, many_a(2), q.udp_size))
    assert reply.id == msg.id
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.AA
    assert reply.flags & dns.flags.RD and reply.flags & dns.flags.CD
    assert reply.question[0].name.to_text() == "BiG.Example.TEST."
    assert reply.answer[0].name.to_text() == "BiG.Example.TEST."
    assert len(reply.answer[0]) == 2


def test_finalize_adds_opt_only_when_asked_and_copies_do() -> None:
    q = wire.Query(query("big.example.test.", use_edns=0, want_dnssec=True))
    reply = dns.message.from_wire(wire.finalize(q, many_a(1), q.udp_size))
    assert reply.edns == 0 and reply.ednsflags & dns.flags.DO
    assert reply.payload == wire.ADVERTISED_UDP_SIZE
    q = wire.Query(query("big.example.test."))
    assert dns.message.from_wire(wire.finalize(q, many_a(1), q.udp_size)).edns == -1


def test_truncates_at_record_boundary_with_tc() -> None:
    q = wire.Query(query("big.example.test."))
    data = wire.finalize(q, many_a(100), q.udp_size)
    assert len(data) <= 512
    reply = dns.message.from_wire(data)
    assert reply.flags & dns.flags.TC
    assert 0 < len(reply.answer[0]) < 100


def test_truncation_keeps_opt_and_honours_client_buffer() -> None:
    q = wire.Query(query("big.example.test.", use_edns=0, payload=1232))
    data = wire.finalize(q, many_a(100), q.udp_size)
    assert 512 < len(data) <= 1232
    reply = dns.message.from_wire(data)
    assert reply.flags & dns.flags.TC and reply.edns == 0


def test_whole_answer_fits_over_tcp() -> None:
    q = wire.Query(query("big.example.test."))
    reply = dns.message.from_wire(wire.finalize(q, many_a(100), wire.MAX_MESSAGE))
    assert not reply.flags & dns.flags.TC
    assert len(reply.answer[0]) == 100


def test_error_answer_is_written_by_server() -> None:
    q = wire.Query(query(use_edns=0))
    reply = dns.message.from_wire(wire.finalize(q, wire.Answer.failure(wire.SERVFAIL), 512))
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert reply.question[0].name.to_text() == "web.example.test."
    assert reply.edns == 0


@pytest.mark.parametrize(
    "text",
    ["example.test.", ".", "a\\.b.example.", "\\000x.example.", "under_score.test."],
)
def test_name_text_round_trip(text: str) -> None:
    assert wire.name_to_text(wire.text_to_name(text)) == text


# --- the accepted query is exactly what its counts announce, and small (issue 9 item 1) ---


def formerr_of(data: bytes) -> dns.message.Message:
    with pytest.raises(wire.Reject) as err:
        wire.Query(data)
    assert err.value.rcode == wire.FORMERR
    return reply_of(err)


@pytest.mark.parametrize("junk", [b"\x00", b"junk", b"\xff" * 600], ids=["1", "4", "600"])
@pytest.mark.parametrize("edns", [False, True])
def test_bytes_after_the_last_record_are_formerr(junk: bytes, edns: bool) -> None:
    data = query(use_edns=0 if edns else False)
    with pytest.raises(dns.message.TrailingJunk):
        dns.message.from_wire(data + junk)
    reply = formerr_of(data + junk)
    assert reply.question[0].name.to_text() == "web.example.test."


def test_bytes_after_an_opt_that_is_not_alone_are_formerr() -> None:
    msg = dns.message.make_query("web.example.test.", "A", use_edns=0)
    msg.additional.append(dns.rrset.from_text("x.test.", 0, "IN", "A", "10.0.0.1"))
    data = msg.to_wire()
    assert wire.Query(data).edns
    formerr_of(data + b"\x00\x00")


def test_records_the_counts_announce_but_the_message_lacks_are_formerr() -> None:
    data = bytearray(query())
    struct.pack_into("!H", data, 10, 1)  # ARCOUNT 1, nothing after the question
    formerr_of(bytes(data))
    struct.pack_into("!HH", data, 6, 1, 0)  # ANCOUNT 1
    struct.pack_into("!H", data, 10, 0)
    formerr_of(bytes(data))


def test_opt_data_that_overruns_the_message_is_formerr() -> None:
    data = bytearray(query(use_edns=0))
    struct.pack_into("!H", data, len(data) - 2, 4)
    formerr_of(bytes(data))


def test_an_option_that_overruns_its_opt_is_formerr() -> None:
    data = query(use_edns=0) + b"\x00\x03\x00\x09"
    data = data[:-6] + struct.pack("!H", 4) + data[-4:]
    formerr_of(data)


def test_a_second_opt_is_formerr() -> None:
    opt = query(use_edns=0)[-11:]
    data = bytearray(query(use_edns=0) + opt)
    struct.pack_into("!H", data, 10, 2)
    formerr_of(bytes(data))


def test_a_query_longer_than_the_bound_is_formerr() -> None:
    padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 1300)
    msg = dns.message.make_query("web.example.test.", "A", use_edns=0, options=[padding])
    data = msg.to_wire(max_size=65535)
    assert len(data) > wire.MAX_QUERY
    dns.message.from_wire(data)  # well formed, only too long
    formerr_of(data)


def test_options_within_the_bound_are_read_and_nsid_noted() -> None:
    cookie = dns.edns.CookieOption(b"\x01" * 8, b"")
    padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 300)
    q = wire.Query(query(use_edns=0, payload=4096, options=[cookie, padding]))
    assert q.edns and q.udp_size == 4096 and not q.nsid
    nsid = dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")
    q = wire.Query(query(use_edns=0, options=[cookie, nsid]))
    assert q.nsid
    assert not wire.Query(query(use_edns=0)).nsid


def test_reply_options_go_into_the_reply_opt() -> None:
    q = wire.Query(query("big.example.test.", use_edns=0))
    plain = wire.finalize(q, many_a(1), q.udp_size)
    q.reply_options = struct.pack("!HH", 3, 4) + b"kdns"
    reply = dns.message.from_wire(wire.finalize(q, many_a(1), q.udp_size))
    (option,) = reply.options
    assert option.otype == dns.edns.OptionType.NSID and option.nsid == b"kdns"
    assert len(wire.finalize(q, many_a(1), q.udp_size)) == len(plain) + 8
    assert wire.reply_size(q, many_a(1), q.udp_size) == len(plain) + 8

"""The reply to a rewritten query, made to fit the client's question.

``wire.finalize`` splices the client's own question in front of an answer's body. When the
name was rewritten, the body was rendered after the rewritten question, so its compression
pointers would land in the wrong places: the body is parsed (with dnslib, off the hot path),
the response rules are applied to its records, and it is rendered again after the client's
question. When only the type, class or EDNS options changed, the question keeps its length and
the body is served as it is.
"""

from __future__ import annotations

import struct

import dnslib

from kdns import replay, wire
from kdns.plugins.rewrite.state import NameRewrite, Response

TYPE_TSIG = 250
#: Record data fields that hold a name the ``answer value`` rules rewrite, by record class.
VALUE_FIELDS = {
    dnslib.CNAME: "label",
    dnslib.NS: "label",
    dnslib.PTR: "label",
    dnslib.MX: "label",
    dnslib.SRV: "target",
    dnslib.NAPTR: "replacement",
    dnslib.SOA: "mname",
}


def parse(question: bytes, answer: wire.Answer) -> dnslib.DNSRecord:
    """The message ``answer`` was rendered as: after ``question`` (a query's bytes 12 on)."""
    assert answer.body is not None
    header = struct.pack("!6H", 0, 0x8000, 1, answer.ancount, answer.nscount, answer.arcount)
    return dnslib.DNSRecord.parse(header + question + answer.body)


def rcode(answer_rcode: int, rules: list[tuple[int, int]]) -> int:
    for frm, to in rules:
        if answer_rcode == frm:
            answer_rcode = to
    return answer_rcode


def apply_records(msg: dnslib.DNSRecord, response: Response) -> None:
    """Authority, answer, then additional records through the name rules (last registered
    first) and the TTL clamps. TSIG is left alone (kdns's bodies hold no OPT)."""
    names = response.names[::-1]
    for rr in (*msg.auth, *msg.rr, *msg.ar):
        if rr.rtype == TYPE_TSIG:
            continue
        if names:
            _names(rr, names)
        for low, high in response.ttls:
            rr.ttl = min(max(rr.ttl, low), high)


def _names(rr: dnslib.RR, rules: list[NameRewrite]) -> None:
    owner = str(rr.rname)
    field = VALUE_FIELDS.get(type(rr.rdata))
    value = str(getattr(rr.rdata, field)) if field else None
    for rule in rules:
        if rule.owner is not None:
            owner = rule.owner(owner)
        if value is not None and rule.value is not None:
            value = rule.value(value)
    rr.rname = dnslib.DNSLabel(owner)
    if field and value is not None:
        setattr(rr.rdata, field, dnslib.DNSLabel(value))


def rerender(
    answer: wire.Answer,
    msg: dnslib.DNSRecord,
    question: bytes,
    new_rcode: int,
    *,
    lease: replay.Lease | None = None,
) -> wire.Answer:
    """``msg``'s records as the body of a reply after ``question`` (wire, name lower-cased).

    ``lease`` is what the reply was built from: ``answer``'s, or None when a lookup went into it.

    The question's name is entered in the compression table, so owner names equal to it or
    below it point into the question and echo the client's letter case.
    """
    buf = dnslib.DNSBuffer()
    buf.append(b"\x00" * wire.HEADER_LEN)
    buf.encode_name(dnslib.DNSLabel(wire.labels(question)))
    buf.append(question[-4:])
    start = buf.offset
    ends: list[int] = []
    for section in (msg.rr, msg.auth, msg.ar):
        for rr in section:
            rr.pack(buf)
            ends.append(buf.offset - start)
    return wire.Answer(
        rcode=new_rcode,
        body=bytes(buf.data[start:]),
        counts=(len(msg.rr), len(msg.auth), len(msg.ar)),
        ends=tuple(ends),
        flags=answer.flags,
        error=answer.error,
        plugin=answer.plugin,
        lease=lease,
    )


def with_rcode(answer: wire.Answer, new_rcode: int) -> wire.Answer:
    """``answer`` with another rcode; an unwritten error becomes a written, empty reply."""
    return wire.Answer(
        rcode=new_rcode,
        body=answer.body if answer.body is not None else b"",
        counts=(answer.ancount, answer.nscount, answer.arcount),
        ends=answer.ends,
        flags=answer.flags if answer.body is not None else wire.QR << 8,
        error=answer.error,
        plugin=answer.plugin,
        lease=answer.lease,
    )

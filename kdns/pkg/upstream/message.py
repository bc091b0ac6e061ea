"""The query kdns sends upstream, the checks a reply must pass, and the reply as a `wire.Answer`.

The query carries the client's question byte for byte (so the upstream sees the client's letter
case), the client's RD, CD and AD bits, and an OPT record (buffer 1232, DO copied) only when the
client sent one; it holds EDNS options only when a plugin set them (``edns.Relayed``, made by
``rewrite edns0``). Its ID is drawn at random for every attempt, and a reply is believed only
when it carries that ID, is a response, and echoes the question; anything else is ignored and
the wait goes on (requirement 4 of USER-NEEDS: spoofed or stray replies must not win).

A reply becomes an ``Answer`` whose body is everything after the question without the upstream's
OPT record, which the server replaces with its own when it writes the reply to the client.
Because the client's question is spliced back in at the same length, compression pointers in the
body still point where the upstream meant them to. A reply whose records cannot be walked is
turned into an empty reply with TC set (coredns/coredns#5953): the client retries over TCP instead
of receiving FORMERR or SERVFAIL for an upstream's mistake.
"""

from __future__ import annotations

import enum
import struct

from kdns import wire
from kdns.pkg import edns as edns_options
from kdns.pkg.upstream.entropy import ENTROPY

TYPE_NS = 2
TYPE_HINFO = 13

_HEADER = struct.Struct("!HHHHHH")
_COUNTS = struct.Struct("!HHHH")
#: RD and CD come from the client when the server writes the reply, and the rcode from the Answer.
_UPSTREAM_FLAGS = 0xFFFF & ~(wire.RD << 8) & ~wire.CD & ~0x0F


class Verdict(enum.Enum):
    #: Not a reply to this query: keep waiting.
    IGNORE = 0
    #: The reply to this query.
    ACCEPT = 1
    #: Carries this query's ID but cannot be read: answered as an empty truncated reply.
    MALFORMED = 2


def random_id() -> int:
    """A query ID from the system's CSPRNG, so it cannot be predicted from earlier ones."""
    return ENTROPY.u16()


def question(name: str, qtype: int, qclass: int = wire.CLASS_IN) -> bytes:
    """A question section in wire form."""
    return wire.text_to_name(name) + struct.pack("!HH", qtype, qclass)


def query(
    question: bytes,
    *,
    rd: bool = True,
    cd: bool = False,
    ad: bool = False,
    edns: bool = False,
    do: bool = False,
    options: bytes = b"",
) -> bytes:
    """A query with one question, without its two ID bytes (`with_id` adds them per attempt).

    ``options`` is the wire form of the OPT record's options (with ``edns``).
    """
    flags0 = wire.RD if rd else 0
    flags1 = (wire.CD if cd else 0) | (wire.AD if ad else 0)
    opt = wire.opt_record(do=do)[:-2] + struct.pack("!H", len(options)) + options if edns else b""
    counts = _COUNTS.pack(1, 0, 0, 1 if opt else 0)
    return bytes((flags0, flags1)) + counts + question + opt


def from_client(q: wire.Query) -> bytes:
    """The query to send upstream for the client's ``q``, without its ID."""
    data = q.data
    return query(
        data[wire.HEADER_LEN : q.question_end],
        rd=bool(data[2] & wire.RD),
        cd=bool(data[3] & wire.CD),
        ad=bool(data[3] & wire.AD),
        edns=q.edns,
        do=q.do,
        options=edns_options.opt_rdata(q) if isinstance(q, edns_options.Relayed) else b"",
    )


def with_id(qid: int, template: bytes) -> bytes:
    return qid.to_bytes(2, "big") + template


def question_of(template: bytes) -> bytes:
    """The question section of a query made by `query`."""
    end = wire.read_name_end(template, wire.HEADER_LEN - 2) + 4
    return template[wire.HEADER_LEN - 2 : end]


def check(reply: bytes, qid: int, question: bytes) -> Verdict:
    """Whether ``reply`` answers the query with ID ``qid`` and ``question``."""
    if len(reply) < wire.HEADER_LEN:
        return Verdict.IGNORE
    rid, flags, qdcount = struct.unpack_from("!HHH", reply)
    if rid != qid or not flags & (wire.QR << 8):
        return Verdict.IGNORE
    if qdcount == 0:
        # Some servers send FORMERR or NOTIMP without the question; the ID is all there is.
        return Verdict.ACCEPT
    if qdcount > 1:
        return Verdict.MALFORMED
    end = wire.HEADER_LEN + len(question)
    name_len = len(question) - 4
    theirs = reply[wire.HEADER_LEN : end]
    if (
        len(theirs) == len(question)
        and theirs[:name_len].lower() == question[:name_len].lower()
        and theirs[name_len:] == question[name_len:]
    ):
        return Verdict.ACCEPT
    try:
        name_end = wire.read_name_end(reply, wire.HEADER_LEN)
    except ValueError:
        return Verdict.MALFORMED
    if name_end + 4 > len(reply):
        return Verdict.MALFORMED
    # A well-formed question, but not ours: a late reply to an earlier query, or a spoof.
    return Verdict.IGNORE


def rcode(reply: bytes) -> int:
    """The header rcode of a reply that passed `check`."""
    return reply[3] & 0x0F


def truncated(reply: bytes) -> wire.Answer:
    """An empty reply with TC set, keeping the upstream's rcode and flags."""
    flags = ((reply[2] << 8) | reply[3]) & _UPSTREAM_FLAGS
    return wire.Answer(rcode=rcode(reply), body=b"", flags=flags | (wire.TC << 8))


def to_answer(reply: bytes, verdict: Verdict = Verdict.ACCEPT) -> wire.Answer:
    """The ``Answer`` for a reply that passed `check` with ``verdict``."""
    if verdict is Verdict.MALFORMED:
        return truncated(reply)
    _id, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(reply)
    flags &= _UPSTREAM_FLAGS
    code = reply[3] & 0x0F
    if qdcount == 0:
        return wire.Answer(rcode=code, body=b"", flags=flags)
    try:
        start = wire.read_name_end(reply, wire.HEADER_LEN) + 4
        ends = wire.record_ends(reply, start, ancount + nscount + arcount)
        kept, extended = _without_opt(reply, start, ends, ancount + nscount)
    except (ValueError, IndexError, struct.error):
        return truncated(reply)
    cut = ends[kept - 1] if kept else start
    return wire.Answer(
        rcode=(extended << 4) | code,
        body=reply[start:cut],
        counts=(ancount, nscount, kept - ancount - nscount),
        ends=tuple(end - start for end in ends[:kept]),
        flags=flags,
    )


def _without_opt(reply: bytes, start: int, ends: list[int], first: int) -> tuple[int, int]:
    """How many records to keep so that the OPT record is left out, and its extended rcode.

    OPT is the last record in practice; should records follow it they are dropped with it, because
    cutting bytes out of the middle could break compression pointers that follow (and the
    additional section is only ever a hint).
    """
    for index in range(first, len(ends)):
        offset = ends[index - 1] if index else start
        name_end = wire.skip_name(reply, offset)
        (rtype,) = struct.unpack_from("!H", reply, name_end)
        if rtype == wire.TYPE_OPT:
            return index, reply[name_end + 4]
    return len(ends), 0

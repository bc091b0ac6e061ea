"""DNS wire format on the hot path.

A query is read no further than its header, its one question and its OPT record
(``peek``); nothing else of the message is decoded, but the records its counts announce
must end exactly where the message does (trailing bytes are FORMERR, as in RFC 1035
parsers), and it is at most ``MAX_QUERY`` bytes. Answers are kept as
``Answer`` values that already hold the wire bytes after the question, so that
serving one means splicing the client's own ID, flags and question (which also
echoes the client's letter case, because owner names compress to a pointer into
the question) in front of bytes that were rendered once.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, NoReturn, final

from kdns.errors import KdnsError

if TYPE_CHECKING:
    from kdns.replay import Lease

HEADER_LEN = 12
MIN_UDP_SIZE = 512
#: The EDNS buffer size kdns advertises (DNS flag day 2020).
ADVERTISED_UDP_SIZE = 1232
MAX_MESSAGE = 65535
#: The largest UDP reply kdns sends whatever buffer the client advertises (DNS Flag Day 2020,
#: BIND's ``max-udp-size``): a bigger answer is cut with TC and the client retries over TCP.
#: ``bufsize`` sets it per server block.
MAX_UDP_REPLY = 1232
#: The largest query kdns reads. A question (at most 259 bytes after the header), an OPT with
#: its options (cookies, client subnet, NSID, RFC 8467 padding to 128-byte blocks) and even a
#: TSIG fit well within it; anything longer is FORMERR, so an accepted query, which may key a
#: replayed reply, is never more than this many bytes.
MAX_QUERY = 1232

# Header flag bits, as they sit in bytes 2 and 3.
QR = 0x80
OPCODE_MASK = 0x78
AA = 0x04
TC = 0x02
RD = 0x01
RA = 0x80
AD = 0x20
CD = 0x10

OPCODE_QUERY = 0

NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4
REFUSED = 5
BADVERS = 16

RCODE_NAMES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    16: "BADVERS",
}

TYPE_OPT = 41
#: EDNS option code of the name server identifier (RFC 5001).
OPTION_NSID = 3
CLASS_IN = 1
CLASS_CH = 3

_OPT_DO = 0x8000
_U16 = struct.Struct("!H")
_U16x2 = struct.Struct("!HH")
_COUNTS = struct.Struct("!HHHH")
_OPT = struct.Struct("!HBBHH")


class Drop(KdnsError):
    """The datagram is not worth an answer (too short to hold a header, or a response)."""


class Reject(KdnsError):
    """The query is answered at once with an error rcode; ``reply`` holds the bytes."""

    def __init__(self, reply: bytes, rcode: int) -> None:
        super().__init__(RCODE_NAMES.get(rcode, str(rcode)))
        self.reply = reply
        self.rcode = rcode


def opt_record(*, do: bool, rcode_high: int = 0, size: int = ADVERTISED_UDP_SIZE) -> bytes:
    """An OPT pseudo-record with no options; ``rcode_high`` is the extended-rcode byte."""
    return b"\x00\x00\x29" + struct.pack("!HBBHH", size, rcode_high, 0, _OPT_DO if do else 0, 0)


OPT_PLAIN = opt_record(do=False)
OPT_DO = opt_record(do=True)


def read_name_end(data: bytes, offset: int) -> int:
    """Offset just past an uncompressed name at ``offset``; raises ValueError if malformed.

    Compression pointers are refused: a question has nothing before it to point at.
    """
    end = len(data)
    total = 0
    while True:
        if offset >= end:
            raise ValueError("name runs past the message")
        length = data[offset]
        if length == 0:
            return offset + 1
        if length > 63:
            raise ValueError("label too long or compressed")
        total += length + 1
        if total > 254:
            raise ValueError("name too long")
        offset += length + 1


def skip_name(data: bytes, offset: int) -> int:
    """Offset just past a possibly compressed name (the pointer is not followed)."""
    end = len(data)
    while True:
        if offset >= end:
            raise ValueError("name runs past the message")
        length = data[offset]
        if length == 0:
            return offset + 1
        if length >= 0xC0:
            if offset + 2 > end:
                raise ValueError("truncated pointer")
            return offset + 2
        if length > 63:
            raise ValueError("bad label type")
        offset += length + 1


def record_ends(data: bytes, offset: int, count: int) -> list[int]:
    """Offsets just past each of ``count`` resource records that start at ``offset``."""
    ends = []
    end = len(data)
    for _ in range(count):
        offset = skip_name(data, offset) + 10
        if offset > end:
            raise ValueError("record header runs past the message")
        offset += _U16.unpack_from(data, offset - 2)[0]
        if offset > end:
            raise ValueError("record data runs past the message")
        ends.append(offset)
    return ends


def name_to_text(wire_name: bytes) -> str:
    """Presentation form of an uncompressed wire name, with a trailing dot and RFC 1035 escapes."""
    labels = []
    offset = 0
    while True:
        length = wire_name[offset]
        if length == 0:
            break
        raw = wire_name[offset + 1 : offset + 1 + length]
        offset += length + 1
        if raw.isalnum() or (raw.replace(b"-", b"").replace(b"_", b"").isalnum()):
            labels.append(raw.decode("ascii"))
            continue
        out = []
        for byte in raw:
            if byte in b'.\\"();@$':
                out.append("\\" + chr(byte))
            elif 0x21 <= byte <= 0x7E:
                out.append(chr(byte))
            else:
                out.append(f"\\{byte:03d}")
        labels.append("".join(out))
    return ".".join(labels) + "." if labels else "."


def labels(name: bytes) -> list[bytes]:
    """The labels of an uncompressed wire name (a question name, or one held in wire form)."""
    out = []
    offset = 0
    while name[offset]:
        length = name[offset]
        out.append(name[offset + 1 : offset + 1 + length])
        offset += length + 1
    return out


def text_to_name(text: str) -> bytes:
    """Wire form of a presentation name (absolute or not; escapes honoured)."""
    if text in (".", ""):
        return b"\x00"
    labels: list[bytes] = []
    current = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if text[i + 1 : i + 4].isdigit() and len(text[i + 1 : i + 4]) == 3:
                current.append(int(text[i + 1 : i + 4]))
                i += 4
                continue
            current.append(ord(text[i + 1]))
            i += 2
            continue
        if ch == ".":
            labels.append(bytes(current))
            current = bytearray()
        else:
            current.extend(ch.encode("utf-8"))
        i += 1
    if current:
        labels.append(bytes(current))
    out = bytearray()
    for label in labels:
        if not label or len(label) > 63:
            raise ValueError(f"bad label in name {text!r}")
        out.append(len(label))
        out.extend(label)
    out.append(0)
    if len(out) > 255:
        raise ValueError(f"name too long: {text!r}")
    return bytes(out)


def error_reply(data: bytes, rcode: int, *, question_end: int = 0, opt: bytes = b"") -> bytes:
    """A reply carrying only ``rcode``, built from the query's header.

    ``question_end`` > 0 echoes the question (data[12:question_end]); ``opt`` is
    appended as the only additional record (BADVERS puts the high rcode bits there).
    """
    flags0 = QR | (data[2] & (OPCODE_MASK | RD))
    flags1 = (data[3] & CD) | (rcode & 0x0F)
    qd = 1 if question_end else 0
    ar = 1 if opt else 0
    return (
        data[0:2]
        + bytes((flags0, flags1))
        + struct.pack("!HHHH", qd, 0, 0, ar)
        + data[HEADER_LEN:question_end]
        + opt
    )


class Query:
    """What the hot path knows of a query: header, question, and EDNS.

    ``key`` is the lower-cased question name in wire form followed by the raw
    QTYPE and QCLASS; it addresses pre-rendered answers and server blocks.
    """

    __slots__ = (
        "data",
        "do",
        "edns",
        "key",
        "name_end",
        "nsid",
        "qclass",
        "qtype",
        "question_end",
        "reply_options",
        "udp_size",
    )
    qtype: int
    qclass: int

    def __init__(self, data: bytes) -> None:
        size = len(data)
        if size < HEADER_LEN:
            raise Drop("shorter than a header")
        flags0 = data[2]
        if flags0 & QR:
            raise Drop("a response, not a query")
        qdcount, ancount, nscount, arcount = _COUNTS.unpack_from(data, 4)
        if (flags0 & OPCODE_MASK) >> 3 != OPCODE_QUERY:
            raise Reject(error_reply(data, NOTIMP), NOTIMP)
        if qdcount != 1 or ancount > 1 or nscount > 1 or arcount > 2 or size > MAX_QUERY:
            raise Reject(error_reply(data, FORMERR), FORMERR)
        # read_name_end, inlined: this runs for every query.
        offset = HEADER_LEN
        try:
            length = data[offset]
            while length:
                if length > 63:
                    raise IndexError
                offset += length + 1
                length = data[offset]
        except IndexError:
            raise Reject(error_reply(data, FORMERR), FORMERR) from None
        name_end = offset + 1
        question_end = name_end + 4
        if question_end > size or name_end - HEADER_LEN > 255:
            raise Reject(error_reply(data, FORMERR), FORMERR)
        self.data = data
        self.name_end = name_end
        self.question_end = question_end
        self.qtype, self.qclass = _U16x2.unpack_from(data, name_end)
        self.key = data[HEADER_LEN:name_end].lower() + data[name_end:question_end]
        self.edns = False
        self.do = False
        self.nsid = False
        #: EDNS options (wire form) a plugin adds to the reply's OPT, e.g. ``nsid``.
        self.reply_options = b""
        self.udp_size = MIN_UDP_SIZE
        if question_end == size and not (ancount or nscount or arcount):
            return
        if (
            arcount == 1
            and not ancount
            and not nscount
            and data[question_end : question_end + 3] == b"\x00\x00\x29"
            and size >= question_end + 11
        ):
            # The usual shape: the OPT record alone right after the question, ending the message.
            payload, _ext, version, flags, rdlen = _OPT.unpack_from(data, question_end + 3)
            if question_end + 11 + rdlen != size:
                self._formerr()
            self.edns = True
            self.do = bool(flags & _OPT_DO)
            self.udp_size = payload if payload > MIN_UDP_SIZE else MIN_UDP_SIZE
            if rdlen:
                self._read_options(question_end + 11, size)
            if version:
                self._bad_version()
        else:
            self._read_records(ancount + nscount, arcount)

    def _formerr(self) -> NoReturn:
        raise Reject(error_reply(self.data, FORMERR, question_end=self.question_end), FORMERR)

    def _bad_version(self) -> None:
        opt = opt_record(do=self.do, rcode_high=BADVERS >> 4)
        reply = error_reply(self.data, BADVERS, question_end=self.question_end, opt=opt)
        raise Reject(reply, BADVERS)

    def _read_options(self, offset: int, end: int) -> None:
        """Walk the OPT's options (``offset``..``end``); each must fit, and NSID is noted."""
        data = self.data
        while offset < end:
            if offset + 4 > end:
                self._formerr()
            code, length = _U16x2.unpack_from(data, offset)
            offset += 4 + length
            if offset > end:
                self._formerr()
            if code == OPTION_NSID:
                self.nsid = True

    def _read_records(self, skip: int, arcount: int) -> None:
        """Walk every record the counts announce: they must end exactly where the message does.

        At most one OPT, owned by the root; records before it are skipped unread.
        """
        data = self.data
        end = len(data)
        opt_rdata: tuple[int, int] | None = None
        version = 0
        try:
            offset = self.question_end
            if skip:
                offset = record_ends(data, offset, skip)[-1]
            for _ in range(arcount):
                start = offset
                offset = skip_name(data, offset)
                rtype, rclass = _U16x2.unpack_from(data, offset)
                rdlen = _U16.unpack_from(data, offset + 8)[0]
                if rtype == TYPE_OPT:
                    if start != offset - 1 or opt_rdata is not None:
                        raise ValueError("OPT owner is not the root, or a second OPT")
                    version = data[offset + 5]
                    flags = _U16.unpack_from(data, offset + 6)[0]
                    self.edns = True
                    self.do = bool(flags & _OPT_DO)
                    self.udp_size = max(MIN_UDP_SIZE, rclass)
                    opt_rdata = (offset + 10, offset + 10 + rdlen)
                offset += 10 + rdlen
                if offset > end:
                    raise ValueError("record runs past the message")
        except (ValueError, struct.error, IndexError):
            self._formerr()
        if offset != end:
            self._formerr()
        if opt_rdata is not None and opt_rdata[1] > opt_rdata[0]:
            self._read_options(*opt_rdata)
        if version:
            self._bad_version()

    @property
    def name(self) -> str:
        """The question name, lower-cased, in presentation form with a trailing dot."""
        return name_to_text(self.key[:-4])

    @property
    def original_name(self) -> str:
        """The question name as the client spelled it."""
        return name_to_text(self.data[HEADER_LEN : self.name_end])

    @property
    def opt(self) -> bytes:
        """The OPT record to append to a reply (empty when the query had none)."""
        if not self.edns:
            return b""
        base = OPT_DO if self.do else OPT_PLAIN
        options = self.reply_options
        if options:
            return base[:-2] + _U16.pack(len(options)) + options
        return base

    def reply_error(self, rcode: int) -> bytes:
        """A reply with ``rcode``, echoing the question and EDNS."""
        return error_reply(self.data, rcode, question_end=self.question_end, opt=self.opt)


@final
class Answer:
    """A reply rendered once and served many times.

    ``body`` is everything after the question (answer, authority and additional
    records, without OPT), rendered as if the question name started at offset 12.
    ``ends`` holds the offset (within ``body``) just past each record, so that a
    reply can be cut at a record boundary. ``body is None`` marks an error that the
    server writes itself (SERVFAIL, REFUSED, FORMERR, NOTIMP), the CoreDNS contract;
    ``error`` then says why, for the errors plugin.

    Final: the hot path tells a ready answer from an awaitable by ``type(x) is Answer``.
    """

    __slots__ = (
        "_heads",
        "ancount",
        "arcount",
        "body",
        "ends",
        "error",
        "flags",
        "lease",
        "nscount",
        "plugin",
        "rcode",
        "rotation",
    )

    def __init__(
        self,
        *,
        rcode: int,
        body: bytes | None,
        counts: tuple[int, int, int] = (0, 0, 0),
        ends: tuple[int, ...] = (),
        flags: int = (QR | AA) << 8,
        error: str | None = None,
        plugin: str = "",
        lease: Lease | None = None,
    ) -> None:
        self.rcode = rcode
        self.body = body
        self.ancount, self.nscount, self.arcount = counts
        self.ends = ends
        self.flags = flags
        self.error = error
        #: The plugin that wrote this reply (the ``plugin`` label of coredns_dns_responses_total).
        self.plugin = plugin
        #: What this reply was built from (``kdns.replay``): the same reply for the same
        #: query bytes while it is alive, so the UDP listener may keep it. None: made per query.
        self.lease = lease
        #: A round robin's variants (loadbalance) handed out after this one, in turn and
        #: ending with this one, so a kept reply can rotate as the chain would.
        self.rotation: tuple[Answer, ...] | None = None
        #: Header bytes 2-11 by (client RD/CD bits, EDNS), made on first use.
        self._heads: dict[int, bytes] = {}

    def head(self, query_flags: int, edns: bool) -> bytes:
        """Header bytes 2-11 (flags and counts) for a client with these RD/CD bits and EDNS."""
        key = query_flags | (0x10000 if edns else 0)
        found = self._heads.get(key)
        if found is None:
            flags0 = (self.flags >> 8) | ((query_flags >> 8) & RD)
            flags1 = ((self.flags & 0xFF) | (query_flags & CD) | (self.rcode & 0x0F)) & 0xFF
            ar = self.arcount + (1 if edns else 0)
            found = bytes((flags0, flags1)) + struct.pack(
                "!HHHH", 1, self.ancount, self.nscount, ar
            )
            self._heads[key] = found
        return found

    def leased(self, lease: Lease | None) -> Answer:
        """This reply under ``lease`` (None: made per query, never kept)."""
        if lease is self.lease:
            return self
        copy = Answer(
            rcode=self.rcode,
            body=self.body,
            counts=(self.ancount, self.nscount, self.arcount),
            ends=self.ends,
            flags=self.flags,
            error=self.error,
            plugin=self.plugin,
            lease=lease,
        )
        copy._heads = self._heads
        return copy

    @classmethod
    def failure(cls, rcode: int, error: str | None = None) -> Answer:
        return cls(rcode=rcode, body=None, error=error)

    def __repr__(self) -> str:
        return (
            f"Answer({RCODE_NAMES.get(self.rcode, self.rcode)}, "
            f"an={self.ancount} ns={self.nscount} ar={self.arcount})"
        )


#: Reply that is never sent (acl drop, loop probes that must vanish).
DROP = Answer.failure(-1)
NO_NEXT = "no next plugin found"


def reply_size(query: Query, answer: Answer, limit: int) -> int:
    """The length ``finalize`` would give, without building the reply."""
    fixed = query.question_end + len(query.opt)
    if answer.body is None:
        return fixed
    size = fixed + len(answer.body)
    if size <= limit:
        return size
    room = limit - fixed
    cut = 0
    for end in answer.ends:
        if end > room:
            break
        cut = end
    return fixed + cut


def finalize(query: Query, answer: Answer, limit: int) -> bytes:
    """The reply to ``query``: the client's ID, RD/CD and question, then ``answer``, cut to ``limit``."""
    data = query.data
    body = answer.body
    if body is None:
        return query.reply_error(answer.rcode)
    edns = query.edns
    question_end = query.question_end
    opt = query.opt
    size = question_end + len(body) + len(opt)
    if size <= limit:
        head = answer.head(((data[2] & RD) << 8) | (data[3] & CD), edns)
        if edns:
            return data[0:2] + head + data[HEADER_LEN:question_end] + body + opt
        return data[0:2] + head + data[HEADER_LEN:question_end] + body
    flags0 = (answer.flags >> 8) | (data[2] & RD)
    flags1 = ((answer.flags & 0xFF) | (data[3] & CD) | (answer.rcode & 0x0F)) & 0xFF
    question = data[HEADER_LEN:question_end]
    room = limit - HEADER_LEN - len(question) - len(opt)
    kept = 0
    for end in answer.ends:
        if end > room:
            break
        kept += 1
    an = min(kept, answer.ancount)
    ns = min(kept - an, answer.nscount)
    extra = kept - an - ns
    cut = answer.ends[kept - 1] if kept else 0
    head = (
        data[0:2]
        + bytes((flags0 | TC, flags1))
        + struct.pack("!HHHH", 1, an, ns, extra + (1 if opt else 0))
    )
    return head + question + body[:cut] + opt

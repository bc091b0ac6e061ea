"""EDNS options of a query: read from its OPT record and written back (RFC 6891 section 6.1.2)."""

from __future__ import annotations

import struct

from kdns import wire
from kdns.request import Request

Option = tuple[int, bytes]


class Relayed(Request):
    """A request whose EDNS options a plugin set on purpose (``rewrite edns0``).

    ``forward`` rebuilds the query it sends upstream and leaves the client's own options out;
    the options of a ``Relayed`` request are the configuration's, so it carries them.
    """

    __slots__ = ()


def opt_rdata(q: wire.Query) -> bytes:
    """The RDATA (the options) of ``q``'s OPT record; empty when it has none."""
    if not q.edns:
        return b""
    data = q.data
    an, ns, ar = struct.unpack_from("!HHH", data, 6)
    offset = q.question_end
    for _ in range(an + ns + ar):
        name_end = wire.skip_name(data, offset)
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", data, name_end)
        start = name_end + 10
        if rtype == wire.TYPE_OPT:
            return data[start : start + rdlen]
        offset = start + rdlen
    return b""


def parse_options(rdata: bytes) -> list[Option]:
    """(code, data) pairs; a truncated last option is left out."""
    options = []
    offset = 0
    while offset + 4 <= len(rdata):
        code, length = struct.unpack_from("!HH", rdata, offset)
        if offset + 4 + length > len(rdata):
            break
        options.append((code, rdata[offset + 4 : offset + 4 + length]))
        offset += 4 + length
    return options


def pack_options(options: list[Option]) -> bytes:
    return b"".join(struct.pack("!HH", code, len(value)) + value for code, value in options)

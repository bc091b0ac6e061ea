"""Build a records handler from YAML text and ask it questions as a client would."""

from __future__ import annotations

import os
import struct
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dnslib

from kdns import plugin, wire
from kdns.authority import answers, zonedata
from kdns.pkg import fall
from kdns.plugins.records import handler, yamlfile
from kdns.request import Request
from tests.support.seam import NextHandler

#: Modification time given to every file written here: synthesised SOA serials are mtimes.
SERIAL = 1_700_000_000


def write(path: Path, text: str, *, mtime: int = SERIAL) -> Path:
    path.write_text(textwrap.dedent(text))
    os.utime(path, (mtime, mtime))
    return path


def make(
    tmp_path: Path,
    text: str,
    *,
    fallthrough: fall.Fall = fall.ZERO,
    memo_size: int = answers.MEMO_SIZE,
) -> tuple[handler.Records, NextHandler]:
    path = write(tmp_path / "zone.yaml", text)
    zones = yamlfile.build([zonedata.read(path)])
    following = NextHandler()
    table = answers.Table(zones, fall=fallthrough, memo_size=memo_size)
    return handler.Records(following, table), following


def request(name: str, qtype: str | int, *, qclass: str | int = "IN") -> Request:
    """A query as a client sends it; ``name`` may hold RFC 1035 escapes (``a\\.b``)."""
    if isinstance(qtype, int):
        rtype = qtype
    elif qtype.startswith("TYPE"):
        rtype = int(qtype[4:])
    else:
        rtype = dnslib.QTYPE.reverse[qtype]
    rclass = qclass if isinstance(qclass, int) else _CLASSES[qclass]
    header = dnslib.DNSRecord.question("x.", "A").pack()[: wire.HEADER_LEN]
    data = bytes(header) + wire.text_to_name(name) + struct.pack("!HH", rtype, rclass)
    return Request(data, "udp", ("127.0.0.1", 5353))


_CLASSES = {"IN": 1, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}


@dataclass
class Reply:
    rcode: str
    aa: bool
    answer: list[str] = field(default_factory=list)
    authority: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)


def ask(h: plugin.Handler, name: str, qtype: str | int, *, qclass: str | int = "IN") -> Reply:
    """Serve one query and parse the reply with dnspython; sections as zone-file lines."""
    req = request(name, qtype, qclass=qclass)
    result = h.serve(req)
    assert isinstance(result, wire.Answer)
    assert result.body is not None, f"no reply written: {result!r} {result.error}"
    msg = dns.message.from_wire(wire.finalize(req, result, wire.MAX_MESSAGE))
    return Reply(
        rcode=dns.rcode.to_text(msg.rcode()),
        aa=bool(msg.flags & dns.flags.AA),
        answer=_lines(msg.answer),
        authority=_lines(msg.authority),
        additional=_lines(msg.additional),
    )


def raw(h: plugin.Handler, name: str, qtype: str | int, *, qclass: str | int = "IN") -> wire.Answer:
    result = h.serve(request(name, qtype, qclass=qclass))
    assert isinstance(result, wire.Answer)
    return result


def _lines(section: list) -> list[str]:  # type: ignore[type-arg]
    return [line for rrset in section for line in rrset.to_text().splitlines()]

"""Render resource records into an ``Answer`` once, so serving it needs no encoding.

Names are rendered lower-case with compression; because the question is rendered
too (at offset 12), owner names that equal or end in the question name become
pointers into it, and serving the answer with the client's question spliced in
echoes the client's letter case in those names.
"""

from __future__ import annotations

from collections.abc import Iterable

import dnslib

from kdns import wire


def question_label(qname: str | bytes) -> dnslib.DNSLabel:
    """The question name, lower-cased, as dnslib labels holding its exact bytes.

    ``qname`` is a wire name or a presentation name with RFC 1035 escapes (``wire.name_to_text``).
    ``dnslib.DNSLabel(text)`` would split at every dot and keep escapes as typed, so a label
    holding a dot or an odd byte would render longer than the client's and every compression
    pointer into the question would land off a label.
    """
    wire_name = qname if isinstance(qname, bytes) else wire.text_to_name(qname)
    labels = []
    offset = 0
    while length := wire_name[offset]:
        labels.append(wire_name[offset + 1 : offset + 1 + length].lower())
        offset += length + 1
    return dnslib.DNSLabel(labels)


def answer(
    qname: str | bytes,
    qtype: int,
    *,
    qclass: int = wire.CLASS_IN,
    rcode: int = wire.NOERROR,
    answer: Iterable[dnslib.RR] = (),
    authority: Iterable[dnslib.RR] = (),
    additional: Iterable[dnslib.RR] = (),
    authoritative: bool = True,
    recursion_available: bool = False,
    truncated: bool = False,
    plugin: str = "",
    static: bool = False,
) -> wire.Answer:
    """Render a reply to ``qname`` (text or wire) / ``qtype`` holding the given sections."""
    buf = dnslib.DNSBuffer()
    buf.append(b"\x00" * wire.HEADER_LEN)
    buf.encode_name(question_label(qname))
    buf.pack("!HH", qtype, qclass)
    start = buf.offset
    ends: list[int] = []
    counts = []
    for section in (answer, authority, additional):
        n = 0
        for rr in section:
            rr.pack(buf)
            ends.append(buf.offset - start)
            n += 1
        counts.append(n)
    flags = wire.QR << 8
    if authoritative:
        flags |= wire.AA << 8
    if recursion_available:
        flags |= wire.RA
    if truncated:
        flags |= wire.TC << 8
    return wire.Answer(
        rcode=rcode,
        body=bytes(buf.data[start:]),
        counts=(counts[0], counts[1], counts[2]),
        ends=tuple(ends),
        flags=flags,
        plugin=plugin,
        static=static,
    )

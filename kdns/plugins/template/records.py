"""Rendered record text to records, and records to an answer body on the wire.

The text is one record in zone-file syntax, read as miekg/dns's ``NewRR`` reads it for CoreDNS:
the origin is the root, the class defaults to IN (and is case-insensitive, ``60 in A``), the TTL
defaults to 3600, and TTL and class may come in either order. The record data is parsed by
dnspython, whose zone-file reader is maintained and complete (parentheses, escapes, every type).
"""

from __future__ import annotations

import io

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tokenizer
import dns.ttl

DEFAULT_TTL = 3600


class RecordError(ValueError):
    """The text is not one resource record."""


def _head(
    tok: dns.tokenizer.Tokenizer,
) -> tuple[dns.name.Name, int, dns.rdataclass.RdataClass, dns.rdatatype.RdataType]:
    """Owner, TTL, class and type of the record ``tok`` is reading."""
    first = tok.get()
    if first.is_eol_or_eof():
        raise RecordError("dns: not a TTL: empty record")
    owner = dns.name.from_text(first.value, dns.name.root)
    ttl: int | None = None
    rdclass: dns.rdataclass.RdataClass | None = None
    while True:
        token = tok.get()
        if token.is_eol_or_eof():
            raise RecordError(f"dns: not a TTL: no type after {owner}")
        text = token.value
        if ttl is None and text[:1].isdigit():
            try:
                ttl = dns.ttl.from_text(text)
                continue
            except dns.ttl.BadTTL:
                raise RecordError(f"dns: not a TTL: {text!r}") from None
        if rdclass is None:
            try:
                rdclass = dns.rdataclass.from_text(text)
                continue
            except dns.rdataclass.UnknownRdataclass:
                pass
        try:
            rdtype = dns.rdatatype.from_text(text)
        except dns.rdatatype.UnknownRdatatype:
            raise RecordError(f"dns: unknown RR type {text!r}") from None
        return owner, DEFAULT_TTL if ttl is None else ttl, rdclass or dns.rdataclass.IN, rdtype


def parse(text: str) -> dns.rrset.RRset:
    """The record ``text`` holds; raises ``RecordError`` with the reason."""
    try:
        tok = dns.tokenizer.Tokenizer(text)
        owner, ttl, rdclass, rdtype = _head(tok)
        if dns.rdatatype.is_metatype(rdtype):
            raise RecordError(f"dns: not a record type: {dns.rdatatype.to_text(rdtype)}")
        rdata = dns.rdata.from_text(rdclass, rdtype, tok, dns.name.root, relativize=False)
    except RecordError:
        raise
    except (dns.exception.DNSException, ValueError, UnicodeError) as err:
        raise RecordError(f"dns: {err}") from None
    return dns.rrset.from_rdata(owner, ttl, rdata)


def check_head(text: str) -> None:
    """Raise ``RecordError`` unless ``text`` starts like a record (owner, TTL/class, type)."""
    try:
        _head(dns.tokenizer.Tokenizer(text))
    except RecordError:
        raise
    except (dns.exception.DNSException, ValueError, UnicodeError) as err:
        raise RecordError(f"dns: {err}") from None


class BodyWriter:
    """Writes records after a query's question, compressing names against the question.

    ``body`` and ``ends`` are what a ``wire.Answer`` holds: the bytes after the question and the
    offset just past each record.
    """

    def __init__(self, message: bytes, question_end: int) -> None:
        self._buf = io.BytesIO()
        self._buf.write(message[:question_end])
        self._start = question_end
        self._compress: dict[dns.name.Name, int] = {}
        labels = dns.name.from_wire(message, 12)[0].labels
        offset = 12
        for i in range(len(labels) - 1):
            self._compress[dns.name.Name(labels[i:])] = offset
            offset += len(labels[i]) + 1
        self.ends: list[int] = []

    def add(self, rrset: dns.rrset.RRset) -> None:
        if len(rrset) == 1:
            rrset.to_wire(self._buf, self._compress)
            self.ends.append(self._buf.tell() - self._start)
            return
        for rdata in rrset:
            one = dns.rrset.from_rdata(rrset.name, rrset.ttl, rdata)
            one.to_wire(self._buf, self._compress)
            self.ends.append(self._buf.tell() - self._start)

    @property
    def body(self) -> bytes:
        return self._buf.getvalue()[self._start :]

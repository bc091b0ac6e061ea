"""The ``type``, ``class``, ``ttl`` and ``rcode`` rules."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.rdataclass
import dns.rdatatype

from kdns.plugins.rewrite.matching import BadRule, Matcher, split_match_type
from kdns.plugins.rewrite.state import State

#: miekg/dns's rcode names, which CoreDNS accepts (case-insensitive) besides numbers 0-23.
RCODES = {
    "NOERROR": 0,
    "FORMERR": 1,
    "SERVFAIL": 2,
    "NXDOMAIN": 3,
    "NOTIMP": 4,
    "REFUSED": 5,
    "YXDOMAIN": 6,
    "YXRRSET": 7,
    "NXRRSET": 8,
    "NOTAUTH": 9,
    "NOTZONE": 10,
    "DSOTYPENI": 11,
    "BADSIG": 16,
    "BADKEY": 17,
    "BADTIME": 18,
    "BADMODE": 19,
    "BADNAME": 20,
    "BADALG": 21,
    "BADTRUNC": 22,
    "BADCOOKIE": 23,
}
MAX_TTL = 2147483647


@dataclass(frozen=True, slots=True)
class TypeRule:
    mode: str
    frm: int
    to: int

    def apply(self, state: State) -> bool:
        if state.qtype != self.frm:
            return False
        state.qtype = self.to
        return True


@dataclass(frozen=True, slots=True)
class ClassRule:
    mode: str
    frm: int
    to: int

    def apply(self, state: State) -> bool:
        if state.qclass != self.frm:
            return False
        state.qclass = self.to
        return True


@dataclass(frozen=True, slots=True)
class TtlRule:
    mode: str
    matcher: Matcher
    low: int
    high: int

    def apply(self, state: State) -> bool:
        if not self.matcher.matches(state.name):
            return False
        state.response.ttls.append((self.low, self.high))
        return True


@dataclass(frozen=True, slots=True)
class RcodeRule:
    mode: str
    matcher: Matcher
    frm: int
    to: int

    def apply(self, state: State) -> bool:
        if not self.matcher.matches(state.name):
            return False
        state.response.rcodes.append((self.frm, self.to))
        return True


def parse_type(mode: str, args: list[str]) -> TypeRule:
    if len(args) != 2:
        raise BadRule("type: 2 arguments required (FROM TO)")
    return TypeRule(mode, _rrtype(args[0]), _rrtype(args[1]))


def parse_class(mode: str, args: list[str]) -> ClassRule:
    if len(args) != 2:
        raise BadRule("class: 2 arguments required (FROM TO)")
    return ClassRule(mode, _rrclass(args[0]), _rrclass(args[1]))


def parse_ttl(mode: str, args: list[str]) -> TtlRule:
    """``ttl [TYPE] NAME SECONDS|MIN-MAX``"""
    if len(args) < 2 or len(args) > 3:
        raise BadRule("ttl: 2 or 3 arguments required ([match type] NAME SECONDS|MIN-MAX)")
    kind, (name, value) = split_match_type(args, 2)
    low, high = ttl_range(value)
    return TtlRule(mode, Matcher.make(kind, name), low, high)


def parse_rcode(mode: str, args: list[str]) -> RcodeRule:
    """``rcode [TYPE] NAME FROM TO``"""
    if len(args) < 3 or len(args) > 4:
        raise BadRule("rcode: 3 or 4 arguments required ([match type] NAME FROM TO)")
    kind, (name, frm, to) = split_match_type(args, 3)
    return RcodeRule(mode, Matcher.make(kind, name), _rcode(frm), _rcode(to))


def ttl_range(text: str) -> tuple[int, int]:
    """``N``, ``A-B``, ``-B`` (0 to B) or ``A-`` (A to 2^31-1)."""
    low_text, dash, high_text = text.partition("-")
    if not dash:
        value = _seconds(text, text)
        return value, value
    if not low_text and not high_text:
        raise BadRule(f"invalid TTL range {text!r}")
    low = _seconds(low_text, text) if low_text else 0
    high = _seconds(high_text, text) if high_text else MAX_TTL
    if low > high:
        raise BadRule(f"invalid TTL range {text!r}: minimum above maximum")
    return low, high


def _seconds(part: str, whole: str) -> int:
    if not part.isdigit() or int(part) > 0xFFFFFFFF:
        raise BadRule(f"invalid TTL {whole!r}")
    return min(int(part), MAX_TTL)


def _rrtype(text: str) -> int:
    try:
        return int(dns.rdatatype.from_text(text))
    except (dns.exception.DNSException, ValueError):
        raise BadRule(f"invalid type {text!r}") from None


def _rrclass(text: str) -> int:
    try:
        return int(dns.rdataclass.from_text(text))
    except (dns.exception.DNSException, ValueError):
        raise BadRule(f"invalid class {text!r}") from None


def _rcode(text: str) -> int:
    if text.isdigit() and int(text) <= 23:
        return int(text)
    code = RCODES.get(text.upper())
    if code is None:
        raise BadRule(f"invalid rcode {text!r}")
    return code

"""A reply as dig prints it: header, flags, counts, then each section's records."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rcode


def render(message: dns.message.Message) -> str:
    flags = dns.flags.to_text(message.flags).lower()
    lines = [
        f";; ->>HEADER<<- opcode: {dns.opcode.to_text(message.opcode())}, "
        f"status: {dns.rcode.to_text(message.rcode())}, id: {message.id}",
        f";; flags: {flags}; QUERY: {len(message.question)}, ANSWER: "
        f"{_count(message.answer)}, AUTHORITY: {_count(message.authority)}, ADDITIONAL: "
        f"{_count(message.additional) + (1 if message.edns >= 0 else 0)}",
        "",
        ";; QUESTION SECTION:",
    ]
    for rrset in message.question:
        lines.append(f";{rrset.name}\t\t{_class(rrset)}\t{_type(rrset)}")
    for title, section in (
        ("ANSWER", message.answer),
        ("AUTHORITY", message.authority),
        ("ADDITIONAL", message.additional),
    ):
        if not section:
            continue
        lines += ["", f";; {title} SECTION:"]
        for rrset in section:
            for rdata in rrset:
                lines.append(
                    f"{rrset.name}\t\t{rrset.ttl}\t{_class(rrset)}\t{_type(rrset)}\t{rdata}"
                )
    return "\n".join(lines)


def _count(section: list[dns.rrset.RRset]) -> int:
    return sum(len(rrset) for rrset in section)


def _class(rrset: dns.rrset.RRset) -> str:
    return dns.rdataclass.to_text(rrset.rdclass)


def _type(rrset: dns.rrset.RRset) -> str:
    return dns.rdatatype.to_text(rrset.rdtype)

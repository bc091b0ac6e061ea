"""The ``cname`` rule: a CNAME target in the reply is replaced and resolved again.

As CoreDNS's ``cname_target.go``: the rule matches every query (so in ``stop`` mode no rule
after it runs); in the reply, the first CNAME of the answer section whose target matches gets
the new target, the records after it are dropped, and the answer records of a lookup of the new
target with the query's type (through the server's own zones) are appended. When the lookup
fails or has no records the reply is left as it was. Lookups that set off further lookups
(data whose rewritten targets chase one another) stop after ``MAX_DEPTH``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import struct
from dataclasses import dataclass

import dnslib

from kdns import plugin, wire
from kdns.plugins.rewrite import response
from kdns.plugins.rewrite.matching import (
    MATCH_TYPES,
    BadRule,
    check_groups,
    compile_regex,
    fill,
    fqdn,
)
from kdns.plugins.rewrite.state import State
from kdns.request import Request

log = logging.getLogger("kdns.plugins.rewrite")
TYPE_CNAME = 5
#: Lookups nested inside one another's (a rewritten target whose answer is rewritten again...);
#: CoreDNS's file plugin gives up after as many.
MAX_DEPTH = 8
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("rewrite_cname_depth", default=0)


@dataclass(frozen=True, slots=True)
class CnameTarget:
    mode: str
    kind: str
    frm: str
    to: str
    regex: re.Pattern[str] | None = None

    def apply(self, state: State) -> bool:
        state.response.cnames.append(self)
        return True

    def target(self, current: str) -> str | None:
        """The new target for ``current``, or None when this rule does not apply to it."""
        kind, frm, to = self.kind, self.frm, self.to
        if kind == "exact":
            return to if current == frm else None
        if kind == "prefix":
            return to + current[len(frm) :] if current.startswith(frm) else None
        if kind == "suffix":
            return current[: -len(frm)] + to if current.endswith(frm) else None
        if kind == "substring":
            return current.replace(frm, to) if frm in current else None
        assert self.regex is not None
        match = self.regex.search(current)
        return fqdn(fill(to, match)) if match else None


def parse(mode: str, args: list[str]) -> CnameTarget:
    """``cname [TYPE] FROM TO``"""
    if len(args) == 2:
        kind, (frm, to) = "exact", args
    elif len(args) == 3:
        kind, frm, to = args[0].lower(), args[1], args[2]
        if kind not in MATCH_TYPES:
            raise BadRule(f"cname: unknown match type {args[0]!r}")
    else:
        raise BadRule("cname: 2 or 3 arguments required ([match type] FROM TO)")
    frm, to = frm.lower(), to.lower()
    if kind == "exact":
        return CnameTarget(mode, kind, fqdn(frm), fqdn(to))
    if kind == "regex":
        regex = compile_regex(frm)
        check_groups(regex, to)
        return CnameTarget(mode, kind, frm, to, regex)
    return CnameTarget(mode, kind, frm, to)


async def chase(msg: dnslib.DNSRecord, rules: list[CnameTarget], sub: Request) -> bool:
    """Rewrite ``msg``'s first matching CNAME and append the new target's records; True if
    the reply's TC flag must be set."""
    for index, rr in enumerate(msg.rr):
        if rr.rtype != TYPE_CNAME:
            continue
        current = str(rr.rdata.label)
        for rule in rules:
            new = rule.target(current)
            if new is None:
                continue
            depth = _depth.get()
            if depth >= MAX_DEPTH:
                log.error("plugin/rewrite: cname target %s: more than %d lookups", new, MAX_DEPTH)
                return False
            token = _depth.set(depth + 1)
            try:
                wire.text_to_name(new)
                answer = await plugin.resolve(plugin.lookup(sub, new, sub.qtype))
            except Exception as err:
                log.error("plugin/rewrite: cname target %s: %s", new, err)
                return False
            finally:
                _depth.reset(token)
            if answer.body is None or not answer.ancount:
                log.error("plugin/rewrite: cname target %s: no records", new)
                return False
            question = wire.text_to_name(new) + struct.pack("!HH", sub.qtype, wire.CLASS_IN)
            found = response.parse(question, answer)
            rr.rdata.label = dnslib.DNSLabel(new)
            del msg.rr[index + 1 :]
            msg.rr.extend(found.rr)
            return bool(answer.flags & (wire.TC << 8))
    return False

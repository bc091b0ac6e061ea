"""Rewrite the question (and EDNS options) of matching queries, and the replies to them.

Rules run in Corefile order on the current question: a rule that matches ends rewriting in
``stop`` mode and hands on to the next rule in ``continue`` mode (a rule that does not match is
skipped whatever its mode). When any rule matched, the next plugin gets a new request built
from the rewritten question and options; the client's own request is left untouched, so the
reply always echoes the client's question, as CoreDNS's reverter does (kdns does so also when
only ``continue`` rules matched). The reply goes through the response rules the matched rules
registered (``response``).

A query that no rule can match passes on untouched. Rules whose match is a question type, class
or exact name test it on the raw request first, so such a query costs no allocation.
"""

from __future__ import annotations

import functools
import struct
from typing import Protocol

import dnslib

from kdns import plugin, replay, wire
from kdns.pkg import edns
from kdns.plugins.rewrite import cname, response
from kdns.plugins.rewrite.state import State
from kdns.request import Request

#: Re-rendered static replies kept per plugin instance, in count and in body bytes; the table
#: starts over when either is reached.
MEMO_SIZE = 4096
MEMO_BYTES = 4 << 20
_U16 = struct.Struct("!H")


class Rule(Protocol):
    @property
    def mode(self) -> str: ...

    def apply(self, state: State) -> bool: ...


#: Tells, from the raw request alone, whether a rule may match it (False means surely not).
Quick = tuple[int, int, bytes] | None


class Rewrite:
    name = "rewrite"
    #: The rules are fixed configuration, so what rewrite passes on depends on the query alone;
    #: a rewritten reply carries the lease of the answer it was made from (none after a lookup).
    lease = replay.PURE

    def __init__(self, next: plugin.Handler, rules: list[Rule], quick: tuple[Quick, ...]) -> None:
        self.next = next
        self.rules = rules
        #: Per rule: (qtype or -1, qclass or -1, exact wire name or b"") it needs, or None when
        #: only the full matcher can tell.
        self.quick = quick
        self._memo: dict[tuple[int, bytes], tuple[wire.Answer, wire.Answer]] = {}
        #: Body bytes held by ``_memo`` (the answers and their re-rendered copies).
        self.memo_bytes = 0

    def serve(self, req: Request) -> plugin.Result:
        # An index loop: a ``for`` loop's iterator would be an allocation per query.
        quick = self.quick
        count = len(quick)
        key = req.key
        first = 0
        while first < count:
            need = quick[first]
            if need is None:
                return self._rewrite(req, first)
            qtype, qclass, name = need
            if (
                (qtype < 0 or req.qtype == qtype)
                and (qclass < 0 or req.qclass == qclass)
                and (not name or (len(key) == len(name) + 4 and key.startswith(name)))
            ):
                return self._rewrite(req, first)
            first += 1
        return self.next.serve(req)

    def _rewrite(self, req: Request, first: int) -> plugin.Result:
        state = State(req, req.name)
        matched = False
        for rule in self.rules[first:]:
            if not rule.apply(state):
                continue
            matched = True
            if rule.mode == "stop":
                break
        if not matched:
            return self.next.serve(req)
        try:
            sub = rebuild(req, state)
        except (ValueError, wire.Drop, wire.Reject):
            return wire.Answer.failure(
                wire.SERVFAIL, f"plugin/rewrite: invalid name after rewrite: {state.name}"
            )
        result = self.next.serve(sub)
        if state.response.cnames:
            return self._chased(req, sub, state, result)
        return plugin.then(result, lambda answer: self.respond(req, sub, state, answer))

    def respond(self, req: Request, sub: Request, state: State, answer: wire.Answer) -> wire.Answer:
        rules = state.response
        new_rcode = response.rcode(answer.rcode, rules.rcodes) if rules.rcodes else answer.rcode
        if answer.body is None or answer is wire.DROP:
            return answer if new_rcode == answer.rcode else response.with_rcode(answer, new_rcode)
        same_name = sub.key[:-4] == req.key[:-4]
        if same_name and not rules.names and not rules.ttls:
            return answer if new_rcode == answer.rcode else response.with_rcode(answer, new_rcode)
        memo_key = (id(answer), req.key)
        found = self._memo.get(memo_key)
        if found is not None and found[0] is answer:
            return found[1]
        try:
            msg = response.parse(sub.data[wire.HEADER_LEN : sub.question_end], answer)
            response.apply_records(msg, rules)
            result = response.rerender(answer, msg, req.key, new_rcode, lease=answer.lease)
        except (dnslib.DNSError, ValueError, IndexError, struct.error) as err:
            return wire.Answer.failure(wire.SERVFAIL, f"plugin/rewrite: unreadable reply: {err}")
        if answer.lease is not None:
            self._keep(memo_key, answer, result)
        return result

    def _keep(self, key: tuple[int, bytes], answer: wire.Answer, result: wire.Answer) -> None:
        """Keep the re-rendered reply of a static answer (the same object comes back for the
        same name, so the next query of it is not parsed again)."""
        size = len(answer.body or b"") + len(result.body or b"")
        if len(self._memo) >= MEMO_SIZE or self.memo_bytes + size > MEMO_BYTES:
            self._memo.clear()
            self.memo_bytes = 0
        self._memo[key] = (answer, result)
        self.memo_bytes += size

    async def _chased(
        self, req: Request, sub: Request, state: State, result: plugin.Result
    ) -> wire.Answer:
        answer = await plugin.resolve(result)
        rules = state.response
        new_rcode = response.rcode(answer.rcode, rules.rcodes) if rules.rcodes else answer.rcode
        if answer.body is None:
            return answer if new_rcode == answer.rcode else response.with_rcode(answer, new_rcode)
        try:
            msg = response.parse(sub.data[wire.HEADER_LEN : sub.question_end], answer)
            truncated = await cname.chase(msg, rules.cnames, sub)
            response.apply_records(msg, rules)
            result = response.rerender(answer, msg, req.key, new_rcode)
        except (dnslib.DNSError, ValueError, IndexError, struct.error) as err:
            return wire.Answer.failure(wire.SERVFAIL, f"plugin/rewrite: unreadable reply: {err}")
        if truncated:
            result.flags |= wire.TC << 8
        return result


def rebuild(req: Request, state: State) -> Request:
    """The request the next plugin gets: ``req`` with the rewritten question and options."""
    data = req.data
    if state.name == state.original:
        qname = data[wire.HEADER_LEN : req.name_end]
    else:
        qname = _wire_name(state.name)
    question = qname + struct.pack("!HH", state.qtype, state.qclass)
    rest = data[req.question_end :]
    counts = data[4:12]
    if state.edns_changed:
        assert state.options is not None
        rest, arcount = _with_options(req, edns.pack_options(state.options))
        counts = counts[:6] + _U16.pack(arcount)
    kind = edns.Relayed if state.edns_changed else Request
    sub = kind(data[:4] + counts + question + rest, req.proto, req.remote)
    sub.zone = req.zone
    sub.server = req.server
    sub.table = req.table
    return sub


@functools.lru_cache(maxsize=1024)
def _wire_name(name: str) -> bytes:
    """``wire.text_to_name``, remembered for the few names rules rewrite to (bounded)."""
    return wire.text_to_name(name)


def _with_options(req: Request, options: bytes) -> tuple[bytes, int]:
    """The records after ``req``'s question with its OPT record replaced by one carrying
    ``options`` (made if the client sent none), and the new additional count."""
    data = req.data
    an, ns, ar = struct.unpack_from("!HHH", data, 6)
    offset = req.question_end
    kept = []
    ttl = 0
    arcount = 0
    for index in range(an + ns + ar):
        start = offset
        name_end = wire.skip_name(data, offset)
        rtype, _cls, rttl, rdlen = struct.unpack_from("!HHIH", data, name_end)
        offset = name_end + 10 + rdlen
        if rtype == wire.TYPE_OPT:
            ttl = rttl
            continue
        kept.append(data[start:offset])
        arcount += index >= an + ns
    opt = b"\x00" + struct.pack("!HHIH", wire.TYPE_OPT, req.udp_size, ttl, len(options))
    return b"".join(kept) + opt + options, arcount + 1

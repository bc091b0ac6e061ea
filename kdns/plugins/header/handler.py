"""Header flags forced on queries (before the next plugin) and on replies (after it).

Query rules rewrite the request's flag bytes in place, so every plugin after *header* and the
reply see them, as in CoreDNS where plugins share the request. Response rules apply to replies
written by plugins after *header*: AA and RA are bits of the answer, RD is echoed from the
query, so clearing or setting RD in a reply changes the echoed bit. Errors the server writes
itself (SERVFAIL, REFUSED...) are not changed, as in CoreDNS. Changed copies of pre-rendered
answers are kept by the answer's identity so that a static answer is copied once.
"""

from __future__ import annotations

from kdns import plugin, wire
from kdns.plugins.header.rules import Masks
from kdns.request import Request

MEMO_SIZE = 4096
_RD = wire.RD << 8


class Header:
    name = "header"
    replay_safe = True

    def __init__(self, next: plugin.Handler, *, query: Masks, response: Masks) -> None:
        self.next = next
        self.query = query
        self.response = response
        self._memo: dict[int, tuple[wire.Answer, wire.Answer]] = {}

    def serve(self, req: Request) -> plugin.Result:
        if self.query:
            _set_query_flags(req, self.query)
        result = self.next.serve(req)
        if not self.response:
            return result
        if type(result) is wire.Answer:
            return self.respond(req, result)
        return plugin.then(result, lambda answer: self.respond(req, answer))

    def respond(self, req: Request, answer: wire.Answer) -> wire.Answer:
        if answer.body is None:
            return answer
        response = self.response
        if response.set & _RD or response.clear & _RD:
            _set_query_flags(req, Masks(response.set & _RD, response.clear & _RD))
        found = self._memo.get(id(answer))
        if found is not None and found[0] is answer:
            return found[1]
        changed = _with_flags(answer, response.apply(answer.flags) & ~_RD)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[id(answer)] = (answer, changed)
        return changed


def _set_query_flags(req: Request, masks: Masks) -> None:
    data = req.data
    flags = masks.apply((data[2] << 8) | data[3])
    req.data = data[:2] + flags.to_bytes(2, "big") + data[4:]


def _with_flags(answer: wire.Answer, flags: int) -> wire.Answer:
    if flags == answer.flags:
        return answer
    return wire.Answer(
        rcode=answer.rcode,
        body=answer.body,
        counts=(answer.ancount, answer.nscount, answer.arcount),
        ends=answer.ends,
        flags=flags,
        error=answer.error,
        plugin=answer.plugin,
        static=answer.static,
    )

"""Positive replies lose their authority and additional sections, as CoreDNS's ``minimal``.

Replies are classified with ``response.typify``: NOERROR replies (an answer, or an empty
NOERROR with neither SOA nor NS in authority) keep only their answer records; NXDOMAIN, NODATA,
delegations, errors and transfers pass unchanged. The server adds the client's OPT back. The
minimised form of a pre-rendered answer is kept, keyed by the answer's identity (and holding
the answer, so its id cannot be reused while the entry lives), so a static answer is cut once.
"""

from __future__ import annotations

from kdns import plugin, wire
from kdns.pkg import response
from kdns.request import Request

#: Minimised answers remembered; the memo starts over when full.
MEMO_SIZE = 4096


class Minimal:
    name = "minimal"
    replay_safe = True

    def __init__(self, next: plugin.Handler, *, memo_size: int = MEMO_SIZE) -> None:
        self.next = next
        self.memo_size = memo_size
        self._memo: dict[int, tuple[wire.Answer, wire.Answer]] = {}

    def serve(self, req: Request) -> plugin.Result:
        result = self.next.serve(req)
        if type(result) is wire.Answer:
            return self.minimise(req.qtype, result)
        return plugin.then(result, lambda answer: self.minimise(req.qtype, answer))

    def minimise(self, qtype: int, answer: wire.Answer) -> wire.Answer:
        if answer.body is None or answer.nscount + answer.arcount == 0:
            return answer
        found = self._memo.get(id(answer))
        if found is not None and found[0] is answer:
            return found[1]
        cut = answer
        if response.typify(answer, qtype) is response.Type.NOERROR:
            cut = _answer_only(answer)
        if len(self._memo) >= self.memo_size:
            self._memo.clear()
        self._memo[id(answer)] = (answer, cut)
        return cut


def _answer_only(answer: wire.Answer) -> wire.Answer:
    assert answer.body is not None
    end = answer.ends[answer.ancount - 1] if answer.ancount else 0
    return wire.Answer(
        rcode=answer.rcode,
        body=answer.body[:end],
        counts=(answer.ancount, 0, 0),
        ends=answer.ends[: answer.ancount],
        flags=answer.flags,
        error=answer.error,
        plugin=answer.plugin,
        static=answer.static,
    )

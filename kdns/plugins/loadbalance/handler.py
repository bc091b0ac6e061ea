"""Round robin over pre-rendered answers: each reply is the next variant of its answer.

The plan of an answer (``plan.build``) is made the first time the answer passes and kept in a
memo keyed by the answer's identity, holding the answer itself so that its id cannot be reused
while the entry lives. Later queries cost a dict lookup and, once per variant, one join of
record bytes. The memo is bounded in entries and in bytes: an entry is charged for every variant
it may build, and the oldest entries go first. As CoreDNS, only NOERROR replies are reordered,
and never zone transfers.

The variants of a leased answer (``kdns.replay``) carry its lease and the variants that follow
them, so the UDP listener keeps the whole turn and replays the next variant to each query.
"""

from __future__ import annotations

from collections.abc import Sequence

from kdns import plugin, replay, wire
from kdns.plugins.loadbalance import plan as plan_
from kdns.request import Request

#: Answers whose plans are remembered; the oldest is forgotten first.
MEMO_SIZE = 4096
#: Bytes of variants the memo may hold at most (each entry counts as if all were built).
MEMO_BYTES = 16 << 20

#: Answers with at most this many variants replay in turn (``kdns.replay``); larger ones are
#: balanced per query by the chain.
MAX_ROTATION = 16

_TRANSFERS = (251, 252)  # IXFR, AXFR


class LoadBalance:
    name = "loadbalance"
    lease = replay.PURE

    def __init__(
        self,
        next: plugin.Handler,
        *,
        prefer: Sequence[plan_.Network] = (),
        memo_size: int = MEMO_SIZE,
        memo_bytes: int = MEMO_BYTES,
    ) -> None:
        self.next = next
        self.prefer = tuple(prefer)
        self.memo_size = memo_size
        self.memo_bytes = memo_bytes
        #: id(answer) -> (answer, its plan, the bytes charged for it).
        self._memo: dict[int, tuple[wire.Answer, plan_.Plan | None, int]] = {}
        self._charged = 0
        self._tick = 0

    def serve(self, req: Request) -> plugin.Result:
        result = self.next.serve(req)
        if type(result) is wire.Answer:
            return self.balance(req, result)
        return plugin.then(result, lambda answer: self.balance(req, answer))

    def balance(self, req: Request, answer: wire.Answer) -> wire.Answer:
        """The next variant of ``answer``, or ``answer`` when there is nothing to reorder."""
        if (
            answer.rcode != wire.NOERROR
            or answer.body is None
            or answer.ancount + answer.nscount + answer.arcount < 2
            or req.qtype in _TRANSFERS
        ):
            return answer
        found = self._memo.get(id(answer))
        if found is not None and found[0] is answer:
            plan = found[1]
        else:
            plan = plan_.build(answer, question=req.key, prefer=self.prefer)
            self._remember(answer, plan)
            if plan is not None and answer.lease is not None and plan.count <= MAX_ROTATION:
                plan.lease_all(answer.lease)
        if plan is None:
            return answer
        self._tick += 1
        return plan.variant(self._tick)

    def _remember(self, answer: wire.Answer, plan: plan_.Plan | None) -> None:
        memo = self._memo
        old = memo.pop(id(answer), None)  # an answer that died and left its id to this one
        if old is not None:
            self._charged -= old[2]
        cost = 64 + (len(answer.body or b"") * plan.count if plan is not None else 0)
        memo[id(answer)] = (answer, plan, cost)
        self._charged += cost
        while len(memo) > 1 and (len(memo) > self.memo_size or self._charged > self.memo_bytes):
            oldest = next(iter(memo))
            self._charged -= memo.pop(oldest)[2]

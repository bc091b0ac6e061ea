from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

import dnslib

from kdns import plugin, replay, wire
from kdns.request import Request

log = logging.getLogger("kdns.plugin.errors")


@dataclass(eq=False)
class Consolidation:
    """``consolidate``: errors matching ``pattern`` are counted and logged once per period."""

    period: float
    pattern: re.Pattern[str]
    level: int
    text: str
    count: int = field(default=0)

    def flush(self) -> None:
        if self.count:
            log.log(
                self.level,
                "plugin/errors: %d errors like '%s' occurred in last %s",
                self.count,
                self.pattern.pattern,
                self.text,
            )
        self.count = 0


def type_name(qtype: int) -> str:
    name: str = dnslib.QTYPE.get(qtype, f"TYPE{qtype}")
    return name


class Errors:
    name = "errors"
    lease = replay.PURE

    def __init__(self, next: plugin.Handler, rules: list[Consolidation]) -> None:
        self.next = next
        self.rules = rules

    def serve(self, req: Request) -> plugin.Result:
        result = self.next.serve(req)
        if type(result) is wire.Answer and result.error is None:
            return result
        return plugin.then(result, lambda answer: self._report(req, answer))

    def _report(self, req: Request, answer: wire.Answer) -> wire.Answer:
        if answer.error is None:
            return answer
        text = f"{answer.rcode} {req.name} {type_name(req.qtype)}: {answer.error}"
        for rule in self.rules:
            if rule.pattern.search(answer.error):
                if rule.count == 0:
                    asyncio.get_running_loop().call_later(rule.period, rule.flush)
                rule.count += 1
                return answer
        log.error("plugin/errors: %s", text)
        return answer

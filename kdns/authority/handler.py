"""Serving a zone table: hits as pre-rendered (``kdns.pkg.hits``); everything else goes through
the table's memo."""

from __future__ import annotations

from kdns import plugin
from kdns.authority import answers
from kdns.pkg.hits import HitTable
from kdns.request import Request


class Authority(HitTable[answers.Table]):
    """The handler of records and file: a subclass names the plugin."""

    name = "authority"

    def _miss(self, req: Request) -> plugin.Result:
        key = req.key
        answer = self.table.answer(key, key[:-4], req.qtype)
        if answer is None or answer is answers.NEXT:
            return self.next.serve(req)
        return answer

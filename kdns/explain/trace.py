"""A chain whose every link reports what it did with the query.

``Traced`` wraps one handler. Each plugin is built around the wrapper of the plugin after it,
so a plugin that passes the query on calls that wrapper, and the trace shows it. The wrapper
lends every other attribute of the handler it wraps (``name``, ``next``, a plugin's data), so
plugins that look for their neighbours find them as when serving.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable

from kdns import plugin, wire
from kdns.pkg import dnsname
from kdns.request import Request

#: Plugins that pass a query on only when it is not theirs or when ``fallthrough`` says so.
FALLTHROUGH = frozenset(("kubernetes", "records", "file", "hosts", "k8s_external", "template"))


@dataclasses.dataclass
class Step:
    """One plugin's part in answering a query."""

    plugin: str
    #: The question name this plugin saw (a rewrite before it shows here).
    name: str
    qtype: int
    #: What it did: "answered", "passed on", "fell through", "rewrote", "served from cache",
    #: "dropped", or "error" (the server writes the rcode).
    action: str = ""
    rcode: str = ""
    detail: str = ""


class Trace:
    def __init__(self) -> None:
        self.steps: list[Step] = []


class Traced:
    def __init__(self, inner: plugin.Handler, trace: Trace) -> None:
        self.inner = inner
        self.trace = trace
        self.name = inner.name

    def __getattr__(self, attr: str) -> object:
        return getattr(self.inner, attr)

    def serve(self, req: Request) -> plugin.Result:
        step = Step(self.name, req.original_name, req.qtype)
        index = len(self.trace.steps)
        self.trace.steps.append(step)
        result = self.inner.serve(req)
        if type(result) is wire.Answer:
            self._record(step, index, result)
            return result
        return self._later(step, index, result)

    async def _later(self, step: Step, index: int, pending: Awaitable[wire.Answer]) -> wire.Answer:
        answer = await pending
        self._record(step, index, answer)
        return answer

    def _record(self, step: Step, index: int, answer: wire.Answer) -> None:
        later = self.trace.steps[index + 1 :]
        step.rcode = "no reply" if answer is wire.DROP else wire.RCODE_NAMES.get(answer.rcode, "?")
        if later:
            seen = later[0]
            if (seen.name, seen.qtype) != (step.name, step.qtype):
                step.action = "rewrote"
                step.detail = f"to {seen.name}"
            elif self.name in FALLTHROUGH and _covers(self.inner, step.name):
                step.action = "fell through"
            else:
                step.action = "passed on"
            return
        if answer is wire.DROP:
            step.action = "dropped"
        elif answer.body is None:
            step.action = "error"
            step.detail = answer.error or ""
        elif self.name == "cache":
            step.action = "served from cache"
        else:
            step.action = "answered"


def _covers(handler: object, name: str) -> bool:
    """True when ``name`` is in one of the zones ``handler`` declares (``zones``), if any."""
    zones = getattr(handler, "zones", None)
    if not isinstance(zones, tuple) or not all(isinstance(z, str) for z in zones):
        return True
    lowered = name.lower()
    return any(dnsname.text_within(lowered, z) for z in zones)


class End:
    """The end of a traced chain: CoreDNS's "no next plugin found"."""

    name = "no next plugin"

    def __init__(self, last: str) -> None:
        self._inner = plugin.NoNext(last)

    def serve(self, req: Request) -> plugin.Result:
        return self._inner.serve(req)


def build(factories: list[tuple[str, plugin.PluginFactory]], trace: Trace) -> plugin.Handler:
    """The server block's chain, each link wrapped; the same order ``plugin.build_chain`` makes."""
    last = factories[-1][0] if factories else "server"
    handler: plugin.Handler = Traced(End(last), trace)
    for _, factory in reversed(factories):
        handler = Traced(factory(handler), trace)
    return handler

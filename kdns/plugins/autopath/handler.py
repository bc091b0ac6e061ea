"""Walk the client's search path on the server and answer the first name that exists.

A pod with ``ndots:5`` asks ``example.org.NS.svc.cluster.local`` first; autopath
tries each search domain after it (``example.org.svc.cluster.local``,
``example.org.cluster.local``, the node's domains, then ``example.org``) down
the rest of the chain, and answers the first that is not NXDOMAIN with a CNAME
from the asked name to the found one, so the client's walk ends in one round
trip (CoreDNS's ``plugin/autopath``). If every step is NXDOMAIN, the reply to
the first step (the asked name) is returned as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dnslib

from kdns import metrics, plugin, render, wire
from kdns.pkg import dnsname
from kdns.request import Request

log = logging.getLogger("kdns.plugin.autopath")

SearchFn = Callable[[Request], list[str] | None]

AUTOPATH_COUNT = metrics.family(
    "coredns_autopath_success_total",
    "Counter of requests that did autopath.",
    ("server",),
)


class Autopath:
    name = "autopath"

    def __init__(self, next: plugin.Handler, *, zones: tuple[str, ...], search: SearchFn) -> None:
        self.next = next
        self.zones = zones
        self.search = search

    def _in_zones(self, name: str) -> bool:
        return any(dnsname.text_within(name, z) for z in self.zones)

    def serve(self, req: Request) -> plugin.Result:
        name = req.name
        if not self._in_zones(name):
            return self.next.serve(req)
        search = self.search(req)
        if not search or not dnsname.text_within(name, search[0]):
            return self.next.serve(req)
        first = search[0]
        base = name[: -len(first) - 1] if first != "." else name.rstrip(".")
        if not base:
            return self.next.serve(req)
        return self._walk(req, base, search)

    async def _walk(self, req: Request, base: str, search: list[str]) -> wire.Answer:
        first_answer: wire.Answer | None = None
        for i, domain in enumerate(search):
            expanded = f"{base}.{domain}" if domain not in ("", ".") else f"{base}."
            sub = plugin.subrequest(req, expanded, req.qtype)
            answer = await plugin.resolve(self.next.serve(sub))
            if i == 0:
                first_answer = answer
                continue_after_first = answer.body is None or answer.rcode == wire.NXDOMAIN
                if not continue_after_first:
                    return answer
                continue
            if answer.body is None or answer.rcode == wire.NXDOMAIN:
                continue
            AUTOPATH_COUNT.inc((req.server,))
            return self._cnamed(req, sub, answer)
        assert first_answer is not None
        return first_answer

    def _cnamed(self, req: Request, sub: Request, answer: wire.Answer) -> wire.Answer:
        """The answer to ``sub`` re-rendered for the asked name, behind a CNAME to ``sub``'s name."""
        try:
            message = dnslib.DNSRecord.parse(wire.finalize(sub, answer, wire.MAX_MESSAGE))
        except Exception:
            log.debug("plugin/autopath: unparsable answer for %s", sub.name, exc_info=True)
            return answer
        records = list(message.rr)
        original = req.name
        if records and str(records[0].rname).lower() != original:
            cname = dnslib.RR(
                render.question_label(original),
                dnslib.QTYPE.CNAME,
                ttl=records[0].ttl,
                rdata=dnslib.CNAME(str(records[0].rname)),
            )
            records.insert(0, cname)
        return render.answer(
            original,
            req.qtype,
            rcode=message.header.rcode,
            answer=records,
            authority=message.auth,
            additional=[rr for rr in message.ar if rr.rtype != wire.TYPE_OPT],
            authoritative=bool(message.header.aa),
            recursion_available=bool(message.header.ra),
            truncated=bool(message.header.tc),
            plugin="autopath",
        )

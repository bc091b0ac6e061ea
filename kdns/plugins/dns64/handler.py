"""AAAA queries without AAAA records answered from the name's A records (RFC 6147).

As CoreDNS's ``dns64``: only AAAA queries of class IN from clients that reached the server over
IPv6 (or any client with ``allow_ipv4``) are looked at. The AAAA query runs through the rest of
the chain; an NXDOMAIN without records, or a reply that has AAAA records (unless
``translate_all``), goes out as it came. Anything else, errors included, is translated: an A
query for the name runs through the server again (so cache and forward serve it), and each A
record becomes an AAAA under the prefix. The reply is NOERROR with the A reply's other records,
authority and additional sections and TC bit; a synthesised record lives no longer than the A
record nor than the SOA of the AAAA reply (600 seconds without one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable

import dnslib

from kdns import metrics, plugin, render, replay, wire
from kdns.pkg import response
from kdns.plugins.dns64 import mapping
from kdns.request import Request

TYPE_A = 1
TYPE_AAAA = 28
#: TTL bound of synthesised records when the AAAA reply had no SOA.
DEFAULT_TTL = 600

TRANSLATED = metrics.family(
    "coredns_dns64_requests_translated_total",
    "Counter of DNS requests translated by dns64.",
    ("server",),
)


class DNS64:
    name = "dns64"
    #: Which queries it looks at depends on the query and the client's address family, which
    #: the listener keeps apart; synthesised answers are made per query and never kept.
    lease = replay.PURE

    def __init__(
        self,
        next: plugin.Handler,
        *,
        prefix: ipaddress.IPv6Network,
        translate_all: bool = False,
        allow_ipv4: bool = False,
    ) -> None:
        self.next = next
        self.prefix = prefix
        self.translate_all = translate_all
        self.allow_ipv4 = allow_ipv4

    def serve(self, req: Request) -> plugin.Result:
        if req.qtype != TYPE_AAAA or req.qclass != wire.CLASS_IN or not self._from_ipv6(req):
            return self.next.serve(req)
        result = self.next.serve(req)
        if type(result) is wire.Answer:
            if not self._needs_translation(result):
                return result
            return self._translate(req, result)
        return self._serve_later(req, result)

    async def _serve_later(self, req: Request, pending: Awaitable[wire.Answer]) -> wire.Answer:
        answer = await pending
        if not self._needs_translation(answer):
            return answer
        return await plugin.resolve(self._translate(req, answer))

    def _from_ipv6(self, req: Request) -> bool:
        if self.allow_ipv4:
            return True
        host = req.remote[0]
        return ":" in host and not host.lower().startswith("::ffff:")

    def _needs_translation(self, answer: wire.Answer) -> bool:
        if answer.body is None:
            return True
        if answer.rcode == wire.NXDOMAIN and answer.ancount == 0:
            return False
        if self.translate_all:
            return True
        recs = response.records(answer)[: answer.ancount]
        return not any(r.type == TYPE_AAAA for r in recs)

    def _translate(self, req: Request, aaaa: wire.Answer) -> plugin.Result:
        bound = _negative_ttl(aaaa)
        result = plugin.lookup(req, req.name, TYPE_A)
        if type(result) is wire.Answer:
            return self._synthesise(req, result, bound)
        return plugin.then(result, lambda a: self._synthesise(req, a, bound))

    def _synthesise(self, req: Request, a_reply: wire.Answer, bound: int) -> wire.Answer:
        if a_reply.body is None:
            return render.answer(req.name, TYPE_AAAA, plugin=self.name)
        sub = plugin.subrequest(req, req.name, TYPE_A)
        parsed = dnslib.DNSRecord.parse(wire.finalize(sub, a_reply, wire.MAX_MESSAGE))
        answers = []
        for rr in parsed.rr:
            if rr.rtype == TYPE_A and rr.rclass == wire.CLASS_IN:
                address = mapping.embed(self.prefix, bytes(rr.rdata.data))
                rr = dnslib.RR(
                    rr.rname,
                    TYPE_AAAA,
                    rclass=rr.rclass,
                    ttl=min(rr.ttl, bound),
                    rdata=dnslib.AAAA(list(address)),
                )
            answers.append(rr)
        TRANSLATED.inc((req.server,))
        return render.answer(
            req.name,
            TYPE_AAAA,
            answer=answers,
            authority=parsed.auth,
            additional=[rr for rr in parsed.ar if rr.rtype != wire.TYPE_OPT],
            authoritative=bool(parsed.header.aa),
            recursion_available=bool(parsed.header.ra),
            truncated=bool(parsed.header.tc),
            plugin=self.name,
        )


def _negative_ttl(answer: wire.Answer) -> int:
    """The TTL of the SOA in ``answer``'s authority section, or ``DEFAULT_TTL`` without one."""
    if answer.body is None:
        return DEFAULT_TTL
    recs = response.records(answer)
    for rec in recs[answer.ancount : answer.ancount + answer.nscount]:
        if rec.type == response.TYPE_SOA:
            return rec.ttl
    return DEFAULT_TTL

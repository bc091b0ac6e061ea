"""Fakes at the plugin seam, shared by the plugin tests that call one handler directly.

``Next`` is the handler after the one under test: it answers from a script of rendered
``Answer``s (or awaitables) and counts the queries that reach it. ``Clock`` is the injectable
time source. ``query``/``request`` build client queries with dnspython, and ``reply`` turns an
``Answer`` into the message the client would get (``wire.finalize``), parsed by dnspython.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import dns.flags
import dns.message
import dns.rdataclass
import dns.rdatatype
import dnslib

from kdns import config, corefile, plugin, render, wire
from kdns.request import Request

Script = Callable[[Request], plugin.Result]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: What `NextHandler` answers, so a test can tell "passed on" from any real answer.
PASSED_RCODE = wire.NOTIMP
PASSED = wire.Answer.failure(PASSED_RCODE, "reached the next plugin")


class NextHandler:
    """CoreDNS's test.NextHandler: records the names that reached it, answers `PASSED`."""

    name = "next"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def serve(self, req: Request) -> plugin.Result:
        self.seen.append(req.original_name)
        return PASSED


class Next:
    """The next plugin: answers with ``script(req)`` and records every query it sees."""

    name = "fake"

    def __init__(self, script: Script | wire.Answer) -> None:
        self.script = script
        self.seen: list[Request] = []

    @property
    def calls(self) -> int:
        return len(self.seen)

    def serve(self, req: Request) -> plugin.Result:
        self.seen.append(req)
        if isinstance(self.script, wire.Answer):
            return self.script
        return self.script(req)


async def later(answer: wire.Answer, delay: float = 0.0) -> wire.Answer:
    """An answer that arrives after ``delay`` seconds, as forward's do."""
    await asyncio.sleep(delay)
    return answer


async def failing(delay: float = 0.0) -> wire.Answer:
    """An upstream that gives up: the server writes SERVFAIL (CoreDNS's forward on errors)."""
    await asyncio.sleep(delay)
    return wire.Answer.failure(wire.SERVFAIL, "plugin/forward: no healthy upstream")


def query(
    name: str,
    rdtype: str | int = "A",
    *,
    rdclass: str | int = "IN",
    do: bool = False,
    cd: bool = False,
    ad: bool = False,
    edns: bool | None = None,
    qid: int = 0x1234,
) -> bytes:
    use_edns = edns if edns is not None else do
    msg = dns.message.make_query(
        name,
        dns.rdatatype.RdataType.make(rdtype),
        dns.rdataclass.RdataClass.make(rdclass),
        use_edns=0 if use_edns else False,
        want_dnssec=do,
    )
    msg.id = qid
    if cd:
        msg.flags |= dns.flags.CD
    if ad:
        msg.flags |= dns.flags.AD
    return msg.to_wire()


def request(name: str, rdtype: str | int = "A", *, proto: str = "udp", **kw: Any) -> Request:
    return Request(query(name, rdtype, **kw), proto, ("127.0.0.1", 5353))


def reply(req: Request, answer: wire.Answer) -> dns.message.Message:
    """What the client receives for ``answer``, parsed strictly."""
    assert answer.body is not None, f"the server would write {answer.rcode}: {answer.error}"
    return dns.message.from_wire(wire.finalize(req, answer, req.size))


def ttls(msg: dns.message.Message) -> list[int]:
    return [
        rrset.ttl for section in (msg.answer, msg.authority, msg.additional) for rrset in section
    ]


def rr(text: str) -> dnslib.RR:
    """One record from zone-file text, e.g. ``rr("a.example. 300 IN A 192.0.2.1")``."""
    (record,) = dnslib.RR.fromZone(text)
    return record


def answer(
    qname: str,
    qtype: str,
    records: Iterable[str] = (),
    *,
    authority: Iterable[str] = (),
    additional: Iterable[str] = (),
    rcode: int = wire.NOERROR,
    authoritative: bool = False,
    ad: bool = False,
) -> wire.Answer:
    """A rendered reply, as an upstream would give it (RA set, AA only if asked)."""
    a = render.answer(
        qname,
        getattr(dnslib.QTYPE, qtype),
        rcode=rcode,
        answer=[rr(t) for t in records],
        authority=[rr(t) for t in authority],
        additional=[rr(t) for t in additional],
        authoritative=authoritative,
        recursion_available=True,
    )
    if ad:
        a.flags |= wire.AD
    return a


def soa(zone: str, *, ttl: int = 3600, minimum: int = 300) -> str:
    return f"{zone} {ttl} IN SOA ns.{zone} hostmaster.{zone} 1 7200 1800 86400 {minimum}"


def directive(text: str, name: str, *, filename: str = "Corefile") -> corefile.Directive:
    """The first ``name`` directive of Corefile ``text``."""
    for block in corefile.parse(text, filename=filename):
        for d in block.directives:
            if d.name == name:
                return d
    raise AssertionError(f"no {name} directive in {text!r}")


def load(text: str, *, filename: str = "Corefile") -> config.Loaded:
    """Run setup for every directive of ``text``, as kdns does when it starts."""
    return config.load(corefile.parse(text, filename=filename))


def chain_handler(loaded: config.Loaded, name: str) -> Any:
    """The handler of plugin ``name`` in the first server block's chain."""
    handler: Any = loaded.servers[0].handler
    while handler is not None:
        if getattr(handler, "name", None) == name:
            return handler
        handler = getattr(handler, "next", None)
    raise AssertionError(f"no {name} in the chain")

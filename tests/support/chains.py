"""Build a server block's chain from Corefile text and ask it questions from a chosen address."""

from __future__ import annotations

import struct
import textwrap

import dns.message
import dns.rcode
import dnslib

from kdns import config, corefile, plugin, render, wire
from kdns.plugins.acl import setup as acl_setup
from kdns.plugins.acl.handler import Acl
from kdns.request import Request

#: What a dropped query looks like to the tests.
DROPPED = "DROPPED"


def chain(text: str) -> plugin.Handler:
    """The chain of the first server block of ``text`` (end it with ``whoami`` to answer)."""
    loaded = config.load(corefile.parse(textwrap.dedent(text)), default_port=1053)
    return loaded.servers[0].handler


class Passed:
    """A next plugin that answers any client (whoami cannot render every address form)."""

    name = "next"

    def serve(self, req: Request) -> plugin.Result:
        return PASSED


#: What `Passed` answers: NOERROR with one additional record, so `outcome` says ANSWERED.
PASSED = render.answer(
    "passed.",
    dnslib.QTYPE.TXT,
    additional=[dnslib.RR("passed.", dnslib.QTYPE.TXT, ttl=0, rdata=dnslib.TXT("passed"))],
)


def acl_only(text: str) -> plugin.Handler:
    """Every ``acl`` line of the first block of ``text`` in front of `Passed`."""
    block = corefile.parse(textwrap.dedent(text))[0]
    zones = tuple(key.zone for key in block.keys)
    rules = [acl_setup.parse(d, zones) for d in block.directives if d.name == "acl"]
    return Acl(Passed(), rules)


def request(name: str, qtype: str | int, source: str, *, proto: str = "udp") -> Request:
    rtype = qtype if isinstance(qtype, int) else dnslib.QTYPE.reverse[qtype]
    header = bytes(dnslib.DNSRecord.question("x.", "A").pack()[: wire.HEADER_LEN])
    data = header + wire.text_to_name(name) + struct.pack("!HH", rtype, wire.CLASS_IN)
    req = Request(data, proto, (source, 40000))
    req.server = "dns://:1053"
    return req


def ask(h: plugin.Handler, name: str, qtype: str | int, source: str) -> dns.message.Message | str:
    """The reply a client at ``source`` gets, parsed by dnspython, or `DROPPED`."""
    req = request(name, qtype, source)
    result = h.serve(req)
    assert isinstance(result, wire.Answer)
    if result is wire.DROP:
        return DROPPED
    return dns.message.from_wire(wire.finalize(req, result, wire.MAX_MESSAGE))


def outcome(h: plugin.Handler, name: str, qtype: str | int, source: str) -> str:
    """``ANSWERED`` (whoami replied), ``REFUSED``, ``NODATA`` (filter), or `DROPPED`."""
    reply = ask(h, name, qtype, source)
    if isinstance(reply, str):
        return reply
    rcode = dns.rcode.to_text(reply.rcode())
    if rcode == "NOERROR" and reply.additional:
        return "ANSWERED"
    if rcode == "NOERROR" and not reply.answer and not reply.authority:
        return "NODATA"
    return rcode

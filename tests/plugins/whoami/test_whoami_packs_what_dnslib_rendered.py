"""whoami packs its two records itself: byte for byte what rendering them with dnslib gave."""

from __future__ import annotations

import ipaddress
import struct

import dns.flags
import dns.message
import dnslib
import pytest

from kdns import plugin, render, wire
from kdns.plugins.whoami.handler import Whoami
from kdns.request import Request


class Next:
    name = "next"

    def serve(self, req: Request) -> plugin.Result:
        raise AssertionError("whoami answers every query itself")


def dnslib_answer(req: Request) -> wire.Answer:
    """whoami as it was: dnslib records rendered by ``render.answer``."""
    host, port = req.remote[0], req.remote[1]
    owner = req.name
    if req.family == 2:
        address = dnslib.RR(owner, dnslib.QTYPE.AAAA, ttl=0, rdata=dnslib.AAAA(host))
    else:
        address = dnslib.RR(owner, dnslib.QTYPE.A, ttl=0, rdata=dnslib.A(host))
    srv = dnslib.RR(
        f"_{req.proto}.{owner}", dnslib.QTYPE.SRV, ttl=0, rdata=dnslib.SRV(0, 0, port, ".")
    )
    return render.answer(owner, req.qtype, qclass=req.qclass, additional=[address, srv])


def query(name: str, qtype: int, *, edns: bool = False, qclass: int = wire.CLASS_IN) -> bytes:
    header = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 1 if edns else 0)
    data = header + wire.text_to_name(name) + struct.pack("!HH", qtype, qclass)
    return data + (wire.OPT_PLAIN if edns else b"")


@pytest.mark.parametrize(
    "name", ["whoami.test.", "WhOaMi.TeSt.", "a.b.c.whoami.example.org.", "x" * 63 + "."]
)
@pytest.mark.parametrize("qtype", [1, 28, 33, 16, 255])
@pytest.mark.parametrize(
    ("proto", "remote"),
    [
        ("udp", ("127.0.0.1", 40000)),
        ("tcp", ("10.1.2.3", 53)),
        ("udp", ("::1", 65535)),
        ("tcp", ("2001:db8::1:2", 1)),
    ],
)
def test_whoami_gives_the_bytes_dnslib_gave(
    name: str, qtype: int, proto: str, remote: tuple[str, int]
) -> None:
    for edns in (False, True):
        req = Request(query(name, qtype, edns=edns), proto, remote)
        got = Whoami(Next()).serve(req)
        assert isinstance(got, wire.Answer)
        want = dnslib_answer(req)
        assert (got.body, got.ends, got.flags, got.rcode) == (
            want.body,
            want.ends,
            want.flags,
            want.rcode,
        )
        assert (got.ancount, got.nscount, got.arcount) == (0, 0, 2)
        reply = wire.finalize(req, got, req.size)
        assert reply == wire.finalize(req, want, req.size)
        check(reply, name, proto, remote)


def check(reply: bytes, name: str, proto: str, remote: tuple[str, int]) -> None:
    msg = dns.message.from_wire(reply)
    assert msg.flags & dns.flags.AA and msg.rcode() == 0
    assert (msg.answer, msg.authority) == ([], [])
    assert msg.question[0].name.to_text() == name
    address, srv = msg.additional
    assert (address.name.to_text(), address.ttl) == (name, 0)
    assert ipaddress.ip_address(str(address[0])) == ipaddress.ip_address(remote[0])
    assert (srv.name.to_text(), srv.ttl) == (f"_{proto}.{name}".replace("..", "."), 0)
    assert (srv[0].priority, srv[0].weight, srv[0].port, srv[0].target.to_text()) == (
        0,
        0,
        remote[1],
        ".",
    )


@pytest.mark.parametrize(
    ("name", "proto", "remote"),
    [
        # dnslib could not render these (a root owner gave "_udp..", an IPv4-mapped address
        # was not parsed): whoami failed on them before.
        (".", "udp", ("127.0.0.1", 40000)),
        (".", "tcp", ("::1", 53)),
        ("whoami.test.", "udp", ("::ffff:192.0.2.1", 5353)),
        ("whoami.test.", "udp", ("fe80::1%lo", 5353)),
    ],
)
def test_whoami_answers_what_dnslib_could_not(
    name: str, proto: str, remote: tuple[str, int]
) -> None:
    req = Request(query(name, 1), proto, remote)
    got = Whoami(Next()).serve(req)
    assert isinstance(got, wire.Answer)
    assert got.ends[-1] == len(got.body or b"")
    check(wire.finalize(req, got, req.size), name, proto, (remote[0].partition("%")[0], remote[1]))

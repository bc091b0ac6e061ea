"""``rewrite edns0``: options set on the request are seen by an upstream through ``forward``;
the client's reply carries kdns's own OPT record, never the rewritten options."""

from __future__ import annotations

import ipaddress
import struct

import dns.edns
import dns.message
import dns.query
import dns.rcode

from tests.support import clients
from tests.support.upstream import FakeUpstream, Seen

LOCAL = 0xFFEE


def options_seen(up: FakeUpstream) -> list[dict[int, list[bytes]]]:
    seen: list[dict[int, list[bytes]]] = []

    def handler(query: dns.message.Message, _seen: Seen) -> dns.message.Message:
        by_code: dict[int, list[bytes]] = {}
        for option in query.options:
            by_code.setdefault(int(option.otype), []).append(option.to_wire())
        seen.append(by_code)
        reply = dns.message.make_response(query, recursion_available=True)
        return reply

    up.handler = handler
    return seen


def corefile(up: FakeUpstream, *rules: str) -> str:
    lines = "".join(f"    {r}\n" for r in rules)
    return ".:{port} {\n    bind 127.0.0.1\n" + lines + f"    forward . 127.0.0.1:{up.port}\n}}\n"


def ask(
    port: int,
    name: str,
    *,
    edns: bool,
    options: list[dns.edns.Option] | None = None,
    tcp: bool = False,
) -> dns.message.Message:
    q = dns.message.make_query(name, "A", use_edns=0 if edns else False, options=options)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=3)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


def test_local_set_from_literal_hex_and_variables() -> None:
    with FakeUpstream() as up:
        seen = options_seen(up)
        text = corefile(
            up,
            "rewrite continue edns0 local set 0xffee hello-world",
            "rewrite continue edns0 local set 0xffef 0x61626364",
            "rewrite continue edns0 local set 0xfff0 {client_port}",
            "rewrite continue edns0 local set 0xfff1 {client_ip}",
            "rewrite continue edns0 local set 0xfff2 {qtype}",
            "rewrite continue edns0 local set 0xfff3 {protocol}",
            "rewrite edns0 local set 0xfff4 {qname}",
        )
        with clients.serve(text) as srv:
            for edns in (False, True):
                for tcp in (False, True):
                    reply = ask(srv.port, "Web.Example.", edns=edns, tcp=tcp)
                    assert reply.rcode() == dns.rcode.NOERROR
                    assert reply.options == (), "the client never sees the rewritten options"
                    assert (reply.edns >= 0) == edns, "no OPT for a client that sent none"
                    got = seen[-1]
                    assert got[LOCAL] == [b"hello-world"]
                    assert got[0xFFEF] == [b"abcd"]
                    assert len(got[0xFFF0][0]) == 2
                    assert got[0xFFF1] == [ipaddress.ip_address("127.0.0.1").packed]
                    assert got[0xFFF2] == [struct.pack("!H", 1)]
                    assert got[0xFFF3] == [b"tcp" if tcp else b"udp"]
                    assert got[0xFFF4] == [b"Web.Example."]


def test_replace_append_unset_and_subnet() -> None:
    with FakeUpstream() as up:
        seen = options_seen(up)
        text = corefile(
            up,
            "rewrite continue edns0 local replace 0xffee replaced",
            "rewrite continue edns0 local append 0xffef more",
            "rewrite continue edns0 local unset 0xfff0",
            "rewrite edns0 subnet set 24 56",
        )
        with clients.serve(text) as srv:
            ask(srv.port, "a.example.", edns=False)
            assert LOCAL not in seen[-1], "replace adds nothing where the option is absent"
            assert seen[-1][0xFFEF] == [b"more"]
            assert seen[-1][8] == [struct.pack("!HBB", 1, 24, 0) + bytes([127, 0, 0])]
            client = [
                dns.edns.GenericOption(LOCAL, b"original"),
                dns.edns.GenericOption(0xFFEF, b"first"),
                dns.edns.GenericOption(0xFFF0, b"gone"),
                dns.edns.GenericOption(0xFFF0, b"gone too"),
            ]
            ask(srv.port, "a.example.", edns=True, options=client)
            got = seen[-1]
            assert got[LOCAL] == [b"replaced"]
            assert got[0xFFEF] == [b"first", b"more"], "static append adds a copy, as CoreDNS"
            assert 0xFFF0 not in got


def test_client_options_go_upstream_only_in_a_query_an_edns0_rule_changed() -> None:
    with FakeUpstream() as up:
        seen = options_seen(up)
        text = corefile(up, "rewrite name exact only.example. only.example.")
        with clients.serve(corefile(up, "rewrite edns0 local set 0xfff9 ruled")) as srv:
            ask(srv.port, "a.example.", edns=True, options=[dns.edns.GenericOption(LOCAL, b"x")])
            assert seen[-1] == {LOCAL: [b"x"], 0xFFF9: [b"ruled"]}
        with clients.serve(text) as srv:
            ask(srv.port, "a.example.", edns=True, options=[dns.edns.GenericOption(LOCAL, b"x")])
            assert seen[-1] == {}, "forward leaves the client's own options out"

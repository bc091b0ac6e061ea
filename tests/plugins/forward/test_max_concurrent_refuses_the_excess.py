"""Requirement 11 of USER-NEEDS: past ``max_concurrent`` queries in flight, forward answers REFUSED
at once (not SERVFAIL, which got cached and outlived the burst, coredns/coredns#4326), memory stays
bounded, and nothing of it sticks: the same names are answered once the upstream keeps up.
"""

from __future__ import annotations

import socket
import time

import dns.message
import dns.rcode

from tests.support import children
from tests.support.upstream import FakeUpstream

LIMIT = 10
BURST = 50


def burst(port: int, names: list[str]) -> dict[str, tuple[str, float]]:
    """Send one query per name at once; each name's rcode and how long its reply took."""
    out: dict[str, tuple[str, float]] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(4)
        start = time.monotonic()
        for name in names:
            sock.sendto(dns.message.make_query(name, "A").to_wire(), (children.HOST, port))
        while len(out) < len(names):
            reply = dns.message.from_wire(sock.recv(4096))
            name = reply.question[0].name.to_text()
            out[name] = (dns.rcode.to_text(reply.rcode()), time.monotonic() - start)
    return out


def test_fifty_at_once_against_a_limit_of_ten() -> None:
    with FakeUpstream() as up:
        up.delay = 1.0
        corefile = f""".:{{port}} {{
    cache 30
    forward . 127.0.0.1:{up.port} {{
        max_concurrent {LIMIT}
    }}
}}
"""
        with children.serve(corefile) as srv:
            names = [f"n{i}.example." for i in range(BURST)]
            results = burst(srv.port, names)
            refused = [n for n, (rcode, _) in results.items() if rcode == "REFUSED"]
            answered = [n for n, (rcode, _) in results.items() if rcode == "NOERROR"]
            assert (len(refused), len(answered)) == (BURST - LIMIT, LIMIT)
            assert max(results[n][1] for n in refused) < 0.5, "REFUSED comes at once"
            assert min(results[n][1] for n in answered) >= 1.0
            assert up.count == LIMIT

            # The refused names were not cached as REFUSED: now they go upstream and resolve.
            up.delay = 0
            again = burst(srv.port, refused[:LIMIT])
            assert {rcode for rcode, _ in again.values()} == {"NOERROR"}
            assert up.count == 2 * LIMIT

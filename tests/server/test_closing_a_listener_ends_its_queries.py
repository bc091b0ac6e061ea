"""A listener that closes (shutdown, or a reload that drops its address) lets queries still
being worked out finish within the grace period, then cancels the rest and waits for them:
none outlives the listener to run against a configuration already cleaned up."""

from __future__ import annotations

import asyncio
import socket

from kdns.server.tcp import TCPListener
from kdns.server.udp import UDPListener
from kdns.server.zones import Route, ZoneTable
from tests.server.test_tcp_backpressure_bounds_each_connection import Held, client, queries
from tests.support import clients
from tests.support.aio import eventually


def _table(handler: Held) -> ZoneTable:
    return ZoneTable([Route("test.", handler, "dns://127.0.0.1:0")])  # type: ignore[arg-type]


async def test_a_udp_query_unanswered_when_its_listener_closes_ends_with_it() -> None:
    held = Held()
    listener = UDPListener(_table(held), "127.0.0.1", 0)
    listener.open()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(clients.make_query("q.test.", "A").to_wire(), ("127.0.0.1", listener.port))
        await eventually(lambda: held.in_flight == 1)
        await listener.close(grace=0.2)
    assert held.in_flight == 0


async def test_a_tcp_query_unanswered_when_its_listener_closes_ends_with_it() -> None:
    held = Held()
    listener = TCPListener(_table(held), "127.0.0.1", 0)
    await listener.open()
    sock = await client(listener.port)
    try:
        sock.send(queries(1))
        await eventually(lambda: held.in_flight == 1)
        await listener.close(grace=0.2)
        assert held.in_flight == 0
    finally:
        sock.close()


async def test_a_udp_reply_ready_within_the_grace_still_goes_out() -> None:
    held = Held()
    listener = UDPListener(_table(held), "127.0.0.1", 0)
    listener.open()
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        query = clients.make_query("q.test.", "A", qid=4321)
        await loop.sock_sendto(sock, query.to_wire(), ("127.0.0.1", listener.port))
        await eventually(lambda: held.in_flight == 1)
        closing = asyncio.ensure_future(listener.close(grace=5))
        await asyncio.sleep(0.05)
        assert not closing.done()
        held.release(1)
        reply = await asyncio.wait_for(loop.sock_recv(sock, 512), 2)
        await closing
    assert reply[:2] == (4321).to_bytes(2, "big")

"""A reload either switches completely or not at all (issue 13 item 3).

Before: a TCP connection still busy when the grace period ended made ``TCPListener.close``
raise after the listeners were re-pointed, so the reload was reported failed while the new
configuration served, ``loaded`` named the old one and no hooks were cleaned up. The instance
runs in the test's loop so the grace period can be short.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from kdns import cli, lifecycle
from kdns.server.instance import Instance
from tests.support import clients, kdnsproc
from tests.support.aio import eventually

HELD = """\
hold.test:{port} {{
    bind 127.0.0.1
    whoami
}}
"""
NEXT = """\
.:{port} {{
    bind 127.0.0.1
    whoami
}}
"""


class Silent:
    """A chain that never answers: the query stays in flight as long as the test wants."""

    name = "silent"

    def __init__(self) -> None:
        self.calls = 0

    def serve(self, req: object) -> object:
        self.calls += 1
        return asyncio.get_running_loop().create_future()


async def started(path: Path, handler: object = None) -> lifecycle.Runner:
    runner = lifecycle.Runner(path, 53, cli.load)
    loaded = cli.load(path, 53)
    if handler is not None:
        loaded.servers[0].handler = handler  # type: ignore[assignment]
    runner.instance = Instance(loaded)
    runner.instance.grace = 0.3
    await runner.instance.start()
    return runner


def peer_closed(sock: socket.socket) -> bool:
    sock.settimeout(0)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


async def test_a_connection_busy_past_the_grace_is_aborted_and_the_reload_succeeds(
    tmp_path: Path,
) -> None:
    old_port, new_port = kdnsproc.free_port(), clients.second_port()
    silent = Silent()
    path = tmp_path / "Corefile"
    path.write_text(HELD.format(port=old_port))
    runner = await started(path, silent)
    assert runner.instance is not None
    cleaned: list[str] = []

    async def mark() -> None:
        cleaned.append("old")

    runner.instance.hooks.cleanup.append(mark)
    loop = asyncio.get_running_loop()
    held = await loop.run_in_executor(None, clients.tcp_connect, old_port)
    try:
        query = clients.make_query("x.hold.test.", "A", qid=7).to_wire()
        held.sendall(clients.frame(query))
        await eventually(lambda: silent.calls > 0)  # in flight for good

        path.write_text(NEXT.format(port=new_port))
        assert await runner.reload(forced=True), "the reload was reported failed"
        assert runner.instance.loaded.servers[0].port == new_port, "loaded names the old"
        assert cleaned == ["old"], "the old configuration's hooks were not cleaned up"
        await eventually(lambda: peer_closed(held), timeout=2)  # aborted, not left open

        q = clients.make_query("who.test.", "A")
        reply = await loop.run_in_executor(
            None, lambda: dns.query.tcp(q, "127.0.0.1", port=new_port, timeout=2)
        )
        assert reply.rcode() == dns.rcode.NOERROR and reply.additional
    finally:
        held.close()
        await runner.instance.stop(grace=0)


async def test_a_reload_that_cannot_listen_changes_nothing(tmp_path: Path) -> None:
    old_port = kdnsproc.free_port()
    path = tmp_path / "Corefile"
    path.write_text(NEXT.format(port=old_port))
    runner = await started(path)
    assert runner.instance is not None
    before = runner.instance.loaded
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: kdns cannot share it
        path.write_text(NEXT.format(port=taken.getsockname()[1]))
        assert not await runner.reload(forced=True)
    try:
        assert runner.instance.loaded is before
        q = dns.message.make_query("who.test.", "A")
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(
            None, lambda: dns.query.udp(q, "127.0.0.1", port=old_port, timeout=2)
        )
        assert reply.rcode() == dns.rcode.NOERROR
    finally:
        await runner.instance.stop(grace=0)

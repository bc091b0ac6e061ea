"""A loaded configuration, serving: listeners for every server block, hooks run in order.

Startup: plugin startup hooks, then listeners open. Shutdown (uvicorn's phases,
CoreDNS's lameduck): mark draining so /ready fails, run the shutdown hooks while
the listeners still answer, close the listeners letting in-flight TCP queries
finish, then run the cleanup hooks.
"""

from __future__ import annotations

import logging
import socket

from kdns import config
from kdns.server.tcp import TCPListener
from kdns.server.udp import UDPListener
from kdns.server.zones import Route, ZoneTable

log = logging.getLogger("kdns.server")


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def server_label(scheme: str, host: str, port: int) -> str:
    """CoreDNS's ``server`` metric label: ``dns://:53``, or ``dns://127.0.0.1:53`` with bind."""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class Instance:
    def __init__(self, loaded: config.Loaded) -> None:
        self.loaded = loaded
        self.udp: list[UDPListener] = []
        self.tcp: list[TCPListener] = []
        self.tables: dict[tuple[str, int], ZoneTable] = {}

    @property
    def hooks(self) -> config.Hooks:
        return self.loaded.hooks

    def routes(self) -> dict[tuple[str, int], list[Route]]:
        """Zones per listen address; "" is every address."""
        out: dict[tuple[str, int], list[Route]] = {}
        for server in self.loaded.servers:
            for host in server.listen or [""]:
                label = server_label(server.scheme, host, server.port)
                for zone in server.zones:
                    route = Route(zone=zone, handler=server.handler, server=label)
                    out.setdefault((host, server.port), []).append(route)
        return out

    async def start(self) -> None:
        for hook in self.hooks.startup:
            await hook()
        try:
            await self._listen()
        except BaseException:
            await self._close_listeners(grace=0)
            raise

    async def _listen(self) -> None:
        v6 = _ipv6_available()
        for (host, port), routes in self.routes().items():
            table = ZoneTable(routes)
            self.tables[(host, port)] = table
            hosts = [host] if host else (["0.0.0.0", "::"] if v6 else ["0.0.0.0"])
            for addr in hosts:
                udp = UDPListener(table, addr, port)
                udp.open()
                self.udp.append(udp)
                port = udp.port  # an ephemeral port (0) is shared by every socket of the key
                tcp = TCPListener(table, addr, port)
                await tcp.open()
                self.tcp.append(tcp)

    def describe(self) -> list[str]:
        """One line per zone and listener, as CoreDNS prints them at start."""
        lines = []
        for server in self.loaded.servers:
            for zone in server.zones:
                line = f"{zone}:{server.port}"
                if server.listen:
                    line += " on " + ", ".join(server.listen)
                lines.append(line)
        return lines

    async def stop(self, *, grace: float = 5.0) -> None:
        self.hooks.draining = True
        for hook in self.hooks.shutdown:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        await self._close_listeners(grace=grace)
        for hook in reversed(self.hooks.cleanup):
            try:
                await hook()
            except Exception:
                log.exception("cleanup hook failed")

    async def _close_listeners(self, *, grace: float) -> None:
        for udp in self.udp:
            await udp.close()
        for tcp in self.tcp:
            try:
                await tcp.close(grace=grace)
            except TimeoutError:
                log.warning("TCP connections still busy after %.1fs, closed", grace)
        self.udp.clear()
        self.tcp.clear()

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
from kdns.errors import ListenError
from kdns.metrics import server_label
from kdns.server.tcp import TCPListener, Timeouts
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


def _with_settings(timeouts: Timeouts, settings: dict[str, float]) -> Timeouts:
    """``timeouts`` with a block's ``timeouts`` settings (seconds, and a count of queries)."""
    return Timeouts(
        read=settings.get("read", timeouts.read),
        write=settings.get("write", timeouts.write),
        idle=settings.get("idle", timeouts.idle),
        maxtcpqueries=int(settings.get("maxtcpqueries", timeouts.maxtcpqueries)),
    )


class Instance:
    def __init__(self, loaded: config.Loaded) -> None:
        self.loaded = loaded
        self.udp: list[UDPListener] = []
        self.tcp: list[TCPListener] = []
        self.tables: dict[tuple[str, int], ZoneTable] = {}
        self.timeouts: dict[tuple[str, int], Timeouts] = {}
        #: How long closing listeners wait for in-flight queries (CoreDNS's graceTimeout).
        self.grace = 5.0

    @property
    def hooks(self) -> config.Hooks:
        return self.loaded.hooks

    def routes(self, loaded: config.Loaded) -> dict[tuple[str, int], list[Route]]:
        """Zones per listen address; "" is every address."""
        out: dict[tuple[str, int], list[Route]] = {}
        for server in loaded.servers:
            for host in server.listen or [""]:
                label = server_label(server.scheme, host, server.port)
                for zone in server.zones:
                    route = Route.of(zone, server.handler, label)
                    out.setdefault((host, server.port), []).append(route)
        return out

    @staticmethod
    def tcp_timeouts(loaded: config.Loaded) -> dict[tuple[str, int], Timeouts]:
        """``timeouts`` per listen address: blocks sharing one take the last value set (CoreDNS)."""
        out: dict[tuple[str, int], Timeouts] = {}
        for server in loaded.servers:
            for host in server.listen or [""]:
                key = (host, server.port)
                out[key] = _with_settings(out.get(key, Timeouts()), server.tcp_timeouts)
        return out

    async def start(self) -> None:
        """Run the startup hooks and open the listeners.

        On failure whatever was started is undone (listeners closed, cleanup hooks
        run) and the error propagates; the shutdown hooks are not run, since a
        server that never served has nothing to drain (no lameduck).
        """
        self.timeouts = self.tcp_timeouts(self.loaded)
        try:
            await self._run_startup(self.hooks)
            await self._listen(self._tables(self.loaded))
        except BaseException:
            await self._close_listeners(grace=0)
            await self._run_cleanup(self.hooks)
            raise

    @staticmethod
    async def _run_startup(hooks: config.Hooks) -> None:
        for hook in hooks.startup:
            await hook()

    @staticmethod
    async def _run_cleanup(hooks: config.Hooks) -> None:
        for hook in reversed(hooks.cleanup):
            try:
                await hook()
            except Exception:
                log.exception("cleanup hook failed")

    def _tables(self, loaded: config.Loaded) -> dict[tuple[str, int], ZoneTable]:
        return {key: ZoneTable(routes) for key, routes in self.routes(loaded).items()}

    async def _listen(self, tables: dict[tuple[str, int], ZoneTable]) -> list[tuple[str, int]]:
        """Open listeners for the keys not open yet; returns the keys opened."""
        v6 = _ipv6_available()
        opened = []
        for (host, port), table in tables.items():
            if (host, port) in self.tables:
                continue
            self.tables[(host, port)] = table
            opened.append((host, port))
            hosts = [host] if host else (["0.0.0.0", "::"] if v6 else ["0.0.0.0"])
            for addr in hosts:
                udp = UDPListener(table, addr, port)
                try:
                    udp.open()
                except OSError as err:
                    raise ListenError(err, "udp", host, port, who="ListenPacket") from None
                self.udp.append(udp)
                port = udp.port  # an ephemeral port (0) is shared by every socket of the key
                tcp = TCPListener(
                    table,
                    addr,
                    port,
                    timeouts=self.timeouts.get((host, port)),
                    label=server_label("dns", host, port),
                )
                try:
                    await tcp.open()
                except OSError as err:
                    raise ListenError(err, "tcp", host, port, who="Listen") from None
                self.tcp.append(tcp)
        return opened

    async def reload(self, loaded: config.Loaded) -> None:
        """Serve ``loaded`` instead, without dropping a query; all or nothing.

        Everything that can fail comes first: the new startup hooks, then listeners for new
        addresses. If any of it fails, what was opened is closed, the new hooks are cleaned
        up, the old configuration keeps serving and the error propagates. After that nothing
        raises: listeners whose address stays are re-pointed at the new server blocks (no
        socket is closed and reopened), vanished ones are closed (connections still busy after
        the grace period are aborted), ``loaded`` becomes the new configuration and the old
        hooks are cleaned up.
        """
        timeouts = self.tcp_timeouts(loaded)
        try:
            await self._run_startup(loaded.hooks)
            tables = self._tables(loaded)
            before = set(self.tables)
            old_timeouts, self.timeouts = self.timeouts, {**self.timeouts, **timeouts}
            try:
                opened = await self._listen(tables)
            except BaseException:
                self.timeouts = old_timeouts
                await self._close_keys(set(self.tables) - before)
                raise
        except BaseException:
            await self._run_cleanup(loaded.hooks)
            raise
        self.timeouts = timeouts
        for key, table in tables.items():
            if key not in opened:
                self._retable(key, table, timeouts[key])
        old, self.loaded = self.loaded, loaded
        await self._close_keys(set(self.tables) - set(tables))
        await self._run_cleanup(old.hooks)

    def _retable(self, key: tuple[str, int], table: ZoneTable, timeouts: Timeouts) -> None:
        self.tables[key] = table
        host, port = key
        listeners: list[UDPListener | TCPListener] = [*self.udp, *self.tcp]
        for listener in listeners:
            if listener.port == port and (
                listener.host == host or (not host and _wild(listener.host))
            ):
                listener.table = table
        for tcp in self.tcp:
            if tcp.port == port and _matches(tcp.host, host):
                tcp.timeouts = timeouts

    async def _close_keys(self, keys: set[tuple[str, int]]) -> None:
        """Close the listeners of ``keys``; never raises (a failure is logged)."""
        for host, port in keys:
            self.tables.pop((host, port), None)
            for udp in [u for u in self.udp if u.port == port and _matches(u.host, host)]:
                self.udp.remove(udp)
                try:
                    await udp.close(grace=self.grace)
                except Exception as err:
                    log.error("closing udp %s:%d: %s", udp.host, port, err)
            for tcp in [t for t in self.tcp if t.port == port and _matches(t.host, host)]:
                self.tcp.remove(tcp)
                await tcp.close(grace=self.grace)

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
        await self._run_cleanup(self.hooks)

    async def _close_listeners(self, *, grace: float) -> None:
        for udp in self.udp:
            await udp.close(grace=grace)
        for tcp in self.tcp:
            await tcp.close(grace=grace)
        self.udp.clear()
        self.tcp.clear()
        self.tables.clear()


def _wild(host: str) -> bool:
    return host in ("0.0.0.0", "::")


def _matches(listener_host: str, key_host: str) -> bool:
    return listener_host == key_host or (not key_host and _wild(listener_host))

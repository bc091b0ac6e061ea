"""``reload DURATION``: poll the zone files (records, file) and swap in new answers when they change.

Each tick stats every file; only a file whose (mtime, size, inode) moved is read, and only a
change of content hash rebuilds anything, so a ConfigMap's ``..data`` symlink swap without a
content change does nothing. Parsing and rendering run in a worker thread; the swap happens in
the event loop. A file that no longer loads keeps the old answers and logs
``plugin/NAME: FILE:LINE - reason`` once per broken content.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from kdns.authority import answers, zonedata
from kdns.pkg import poller

Build = Callable[[list[zonedata.Zone]], answers.Table]
#: Turns the files as read into zones (YAML for *records*, RFC 1035 zone files for *file*).
Parse = Callable[[list[zonedata.Source]], list[zonedata.Zone]]


class Watcher:
    def __init__(
        self,
        *,
        sources: list[zonedata.Source],
        interval: float,
        build: Build,
        parse: Parse,
        plugin: str,
    ) -> None:
        self.interval = interval
        self.build = build
        self.parse = parse
        self.plugin = plugin
        self.log = logging.getLogger(f"kdns.plugin.{plugin}")
        self.sources = list(sources)
        self._stats: dict[Path, tuple[int, int, int] | None] = {
            s.path: s.stat for s in self.sources
        }
        self._failed: tuple[str, ...] | None = None
        self._listeners: list[Callable[[answers.Table], None]] = []
        self._poller = poller.Poller(
            self.check,
            interval=self.interval,
            name=f"{plugin}-reload",
            log=self.log,
            failure=f"plugin/{plugin}: reload check failed",
        )

    def subscribe(self, listener: Callable[[answers.Table], None]) -> None:
        """Call ``listener(table)`` with each table a reload builds."""
        self._listeners.append(listener)

    async def start(self) -> None:
        await self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    def _current_stats(self) -> dict[Path, tuple[int, int, int] | None]:
        out: dict[Path, tuple[int, int, int] | None] = {}
        for path in self._stats:
            try:
                out[path] = zonedata.stat_key(os.stat(path))
            except OSError:
                out[path] = None
        return out

    async def check(self) -> bool:
        """One tick: True if a new table was installed."""
        current = self._current_stats()
        if current == self._stats:
            return False
        paths = [s.path for s in self.sources]
        try:
            sources = await asyncio.to_thread(_read_all, paths)
        except zonedata.LoadError as err:
            self._stats = current
            self._report(("unreadable", str(err)), err)
            return False
        self._stats = {s.path: s.stat for s in sources}
        digests = tuple(s.digest for s in sources)
        if digests == tuple(s.digest for s in self.sources):
            self._failed = None
            return False  # touched, or swapped for a copy: same content, nothing to do
        try:
            table = await asyncio.to_thread(self._build, sources)
        except zonedata.LoadError as err:
            self._report(digests, err)
            return False
        self.sources = sources
        self._failed = None
        for listener in self._listeners:
            listener(table)
        names = ", ".join(z.name for z in table.zones)
        self.log.info(
            "plugin/%s: reloaded %s (zones %s)", self.plugin, ", ".join(map(str, paths)), names
        )
        return True

    def _build(self, sources: list[zonedata.Source]) -> answers.Table:
        return self.build(self.parse(sources))

    def _report(self, state: tuple[str, ...], err: zonedata.LoadError) -> None:
        if state == self._failed:
            return  # already said for this content; say it again only when it changes
        self._failed = state
        self.log.error("plugin/%s: %s", self.plugin, err)


def _read_all(paths: list[Path]) -> list[zonedata.Source]:
    return [zonedata.read(p) for p in paths]

"""The hosts file and the inline entries behind a ``hosts`` directive, re-read when they change.

``reload DURATION`` (default 5s, CoreDNS's) polls the file: only a change of modification time,
size or inode re-reads it, in a worker thread, and the new ``Table`` is installed in the event
loop's thread between two queries. As in CoreDNS, a file that disappears or cannot be read
leaves the last entries in service; inline entries are always served.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from kdns import metrics
from kdns.pkg import poller
from kdns.plugins.hosts import hostsfile
from kdns.plugins.hosts.table import Table

log = logging.getLogger("kdns.plugin.hosts")

#: CoreDNS's hosts metrics: one gauge each, set by whichever source loaded last, as there.
ENTRIES = metrics.family(
    "coredns_hosts_entries",
    "The combined number of entries in hosts and Corefile.",
    (),
    kind="gauge",
)
RELOAD_TIMESTAMP = metrics.family(
    "coredns_hosts_reload_timestamp_seconds",
    "The timestamp of the last reload of hosts file.",
    (),
    kind="gauge",
)


class Source:
    def __init__(
        self,
        *,
        path: Path,
        inline: list[str],
        zones: frozenset[bytes],
        reverse: bool,
        ttl: int,
    ) -> None:
        self.path = path
        self.zones = zones
        self.reverse = reverse
        self.ttl = ttl
        self.inline = hostsfile.parse(inline, zones=zones, reverse=reverse)
        self.table = Table([self.inline], ttl=ttl)
        #: ``coredns_hosts_reload_timestamp_seconds``: the modification time of the file read.
        self.reload_timestamp = 0.0
        self._stamp: tuple[int, int, int] | None = None
        self._listeners: list[Callable[[Table], None]] = []

    @property
    def entries(self) -> int:
        """``coredns_hosts_entries``."""
        return self.table.entries

    def subscribe(self, listener: Callable[[Table], None]) -> None:
        """Call ``listener(table)`` with every table a reload installs."""
        self._listeners.append(listener)

    def read(self) -> Table | None:
        """A table from the file if it changed since the last read, else None. Blocking."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp == self._stamp:
                return None
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            if self._stamp is not None or not isinstance(err, FileNotFoundError):
                log.warning("plugin/hosts: cannot read %s: %s", self.path, err.strerror or err)
            self._stamp = None
            return None
        entries = hostsfile.parse(text.splitlines(), zones=self.zones, reverse=self.reverse)
        self._stamp = stamp
        self.reload_timestamp = st.st_mtime
        return Table([entries, self.inline], ttl=self.ttl)

    def install(self, table: Table) -> None:
        self.table = table
        ENTRIES.set((), table.entries)
        RELOAD_TIMESTAMP.set((), self.reload_timestamp)
        for listener in self._listeners:
            listener(table)

    def load(self) -> bool:
        """Read the file now (setup); True if it was read."""
        table = self.read()
        if table is None:
            return False
        self.install(table)
        return True


class Watcher:
    """Polls a `Source` every ``interval`` seconds from startup to cleanup."""

    def __init__(self, source: Source, interval: float) -> None:
        self.source = source
        self.interval = interval
        self._poller = poller.Poller(
            self.check,
            interval=self.interval,
            name="hosts-reload",
            log=log,
            failure=f"plugin/hosts: reload of {self.source.path} failed",
        )

    async def start(self) -> None:
        await self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    async def check(self) -> bool:
        """One tick: True if a new table was installed."""
        table = await asyncio.to_thread(self.source.read)
        if table is None:
            return False
        self.source.install(table)
        log.debug("plugin/hosts: reloaded %s (%d entries)", self.source.path, table.entries)
        return True

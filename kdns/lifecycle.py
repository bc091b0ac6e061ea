"""Run a configuration until told to stop: signals, reload, lameduck shutdown.

Signal handlers only set flags (uvicorn's ``capture_signals``): SIGTERM/SIGINT
ask for shutdown, SIGUSR1 for a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import platform
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from kdns import __version__, config, metrics
from kdns.errors import KdnsError
from kdns.server.instance import Instance

log = logging.getLogger("kdns")

Loader = Callable[[Path, int], config.Loaded]


def digest(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


class Runner:
    def __init__(self, path: Path, default_port: int, loader: Loader) -> None:
        self.path = path
        self.default_port = default_port
        self.loader = loader
        self.stop = asyncio.Event()
        #: What plugins stop the process through (loop); shared by every configuration loaded.
        self.process = config.Process()
        self.process.on_stop = self.stop.set
        self.reload_now = asyncio.Event()
        self.instance: Instance | None = None
        self.running_digest = ""
        self._failed_digest = ""

    async def serve(self, loaded: config.Loaded, *, quiet: bool) -> int:
        self.instance = Instance(loaded)
        loaded.hooks.process = self.process
        with contextlib.suppress(OSError):
            self.running_digest = digest(self.path)
        # Before the listeners open: a SIGTERM that comes once the first query can be
        # answered must stop kdns gracefully (exit 0), not kill it with the default action.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.add_signal_handler(signal.SIGUSR1, self.reload_now.set)
        await self.instance.start()
        if not quiet:
            for line in self.instance.describe():
                print(line)
            print(f"kdns-{__version__}")
            print(
                f"{platform.system().lower()}/{platform.machine()}, python{platform.python_version()}"
            )
            sys.stdout.flush()
        if loaded.hooks.reload is not None:
            log.info("plugin/reload: Running configuration SHA512 = %s", self.running_digest)
        watcher = asyncio.create_task(self._watch(), name="kdns-reload")
        try:
            await self.stop.wait()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
                loop.remove_signal_handler(sig)
        await self.instance.stop()
        return self.process.exit_code

    def _next_check(self) -> float | None:
        assert self.instance is not None
        options = self.instance.hooks.reload
        if options is None:
            return None
        return float(options.interval + random.uniform(-options.jitter, options.jitter))

    async def _watch(self) -> None:
        while True:
            delay = self._next_check()
            forced = False
            try:
                await asyncio.wait_for(self.reload_now.wait(), delay)
                forced = True
            except TimeoutError:
                pass
            self.reload_now.clear()
            await self.reload(forced=forced)

    async def reload(self, *, forced: bool = False) -> bool:
        """Load the Corefile again if its content changed (or ``forced``); True if swapped."""
        assert self.instance is not None
        try:
            current = digest(self.path)
        except OSError as err:
            log.error("Restart failed: %s", err)
            metrics.RELOAD_FAILED.inc(())
            return False
        if not forced and (current == self.running_digest or current == self._failed_digest):
            return False
        log.info("Reloading")
        try:
            loaded = self.loader(self.path, self.default_port)
            loaded.hooks.process = self.process
            await self.instance.reload(loaded)
        except (KdnsError, OSError) as err:
            self._failed_digest = current
            log.error("Restart failed: %s", err)
            metrics.RELOAD_FAILED.inc(())
            return False
        except Exception as err:
            # Instance.reload fails only before the switch: the old configuration still serves.
            self._failed_digest = current
            log.error("Restart failed: %s: %s", type(err).__name__, err)
            metrics.RELOAD_FAILED.inc(())
            return False
        self.running_digest = current
        self._failed_digest = ""
        if loaded.hooks.reload is not None:
            log.info("plugin/reload: Running configuration SHA512 = %s", current)
        log.info("Reloading complete")
        return True

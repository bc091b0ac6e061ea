"""A guarded background poll: call a check every interval from startup to cleanup.

One failing check is logged and polling goes on (kopf's guarded tasks): a surprise in a
reload must not end reloading for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Poller:
    def __init__(
        self,
        check: Callable[[], Awaitable[object]],
        *,
        interval: float,
        name: str,
        log: logging.Logger,
        failure: str,
    ) -> None:
        self.check = check
        self.interval = interval
        self.name = name
        self.log = log
        self.failure = failure
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:
                self.log.exception("%s", self.failure)

"""Ending the queries a closing listener still works on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

#: How long cancelled queries get to finish their cleanup before closing goes on regardless.
CANCEL_WAIT = 1.0


async def finish(tasks: Iterable[asyncio.Future[Any]], *, grace: float) -> int:
    """Let ``tasks`` finish for up to ``grace`` seconds, then cancel the rest and wait for them
    (up to ``CANCEL_WAIT``): none outlives its listener. Returns how many were cancelled."""
    pending = {task for task in tasks if not task.done()}
    if pending and grace > 0:
        _, pending = await asyncio.wait(pending, timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=CANCEL_WAIT)
    return len(pending)

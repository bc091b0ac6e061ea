"""The loop probe runs in a task of its own from start-up; the configuration's cleanup (shutdown
or reload) ends it and waits for it, so no probe outlives the configuration that sent it."""

from __future__ import annotations

import asyncio

from tests.support import kdnsproc, seam


async def test_cleanup_ends_a_probe_still_retrying() -> None:
    # Nothing listens on the block's port, so the probe keeps retrying until told to stop.
    port = kdnsproc.free_port()
    loaded = seam.load(f".:{port} {{\n    loop\n    whoami\n}}\n")
    for hook in loaded.hooks.startup:
        await hook()
    await asyncio.sleep(0.05)
    probes = [t for t in asyncio.all_tasks() if t.get_name() == "loop-probe"]
    assert len(probes) == 1 and not probes[0].done()
    for hook in reversed(loaded.hooks.cleanup):
        await hook()
    assert probes[0].done()

"""Never a wrong answer because of the API: not ready until synced, last-known data after."""

from __future__ import annotations

import asyncio

from tests.support import apiserver as fake
from tests.support.aio import eventually, stays


async def test_api_down_at_start_means_not_ready_until_it_comes_up(api, make_controller):
    api.create(fake.namespace("default"))
    api.create(fake.service("web", cluster_ips=["10.96.0.5"]))
    await api.stop()

    ctl = await make_controller()  # starting does not need the API server
    await stays(lambda: not ctl.ready(), duration=0.6)
    assert ctl.store.service("default", "web") is None

    await api.start()
    # The retry delay is capped (0.3 s in these tests), so sync follows promptly.
    took = await eventually(ctl.ready, timeout=2.0)
    assert took < 1.0
    assert ctl.store.service("default", "web") is not None


async def test_after_sync_an_outage_keeps_data_and_readiness_then_resumes(api, make_controller):
    api.create(fake.namespace("default"))
    api.create(fake.service("web", cluster_ips=["10.96.0.5"]))
    ctl = await make_controller()
    await eventually(ctl.ready)
    before = list(ctl.store.services())
    serial = ctl.store.serial

    await api.stop()
    await stays(
        lambda: ctl.ready() and list(ctl.store.services()) == before and ctl.store.serial == serial,
        duration=1.0,
    )
    requests = len(api.requests)
    await api.start()
    api.create(fake.service("later", cluster_ips=["10.96.0.6"]))
    await eventually(lambda: ctl.store.service("default", "later") is not None, timeout=2.0)
    # Resumed by watching from the last revision: nothing was lost, so nothing is relisted.
    assert not any(not r.watch for r in api.requests[requests:])


async def test_a_stalled_stream_is_replaced_within_the_inactivity_bound(
    api, make_controller, caplog
):
    api.create(fake.namespace("default"))
    ctl = await make_controller(inactivity_timeout=0.5)
    await eventually(lambda: ctl.ready() and api.open_watches == 3)
    watches = len(api.watch_requests("services"))

    api.stall_watches(True)  # open, silent: not even bookmarks
    api.create(fake.service("web", cluster_ips=["10.96.0.7"]))
    took = await eventually(lambda: ctl.store.service("default", "web") is not None, timeout=2.0)
    assert 0.4 < took < 1.0
    assert len(api.watch_requests("services")) == watches + 1
    assert any("stalled" in r.getMessage() for r in caplog.records)


async def test_a_healthy_quiet_stream_is_kept_thanks_to_bookmarks(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller(inactivity_timeout=0.5)
    await eventually(lambda: ctl.ready() and api.open_watches == 3)
    await asyncio.sleep(1.2)
    assert len(api.watch_requests()) == 3

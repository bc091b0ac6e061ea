"""Bookmarks and events advance the revision; a cut stream resumes from it, never relisting."""

from __future__ import annotations

import asyncio

from tests.support import apiserver as fake
from tests.support.aio import eventually


async def test_bookmarks_advance_the_revision_a_dropped_stream_resumes_from(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller()
    await eventually(lambda: ctl.ready() and len(api.watch_requests("services")) == 1)
    lists = len(api.list_requests("services"))
    listed_at = api.watch_requests("services")[0].query["resourceVersion"]

    # Changes to other kinds move the global revision; the service watch sees only bookmarks.
    for i in range(3):
        api.create(fake.namespace(f"ns{i}"))
    bookmarked = str(api.rv)
    assert bookmarked != listed_at
    await asyncio.sleep(3 * api.bookmark_interval)

    # Even with the history gone, resuming from a bookmarked revision needs no relist.
    api.compact()
    api.drop_watches()
    await eventually(lambda: len(api.watch_requests("services")) == 2)
    assert api.watch_requests("services")[1].query["resourceVersion"] == bookmarked
    assert len(api.list_requests("services")) == lists


async def test_a_dropped_stream_rewatches_from_the_last_event(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller()
    await eventually(lambda: ctl.ready() and len(api.watch_requests("services")) == 1)
    lists = len(api.list_requests())

    created = api.create(fake.service("web", cluster_ips=["10.96.0.20"]))
    await eventually(lambda: ctl.store.service("default", "web") is not None)
    api.drop_watches()
    api.create(fake.service("api", cluster_ips=["10.96.0.21"]))  # while disconnected

    await eventually(lambda: ctl.store.service("default", "api") is not None)
    resumed = api.watch_requests("services")[1].query["resourceVersion"]
    assert int(resumed) >= int(created["metadata"]["resourceVersion"])
    assert len(api.list_requests()) == lists
    assert ctl.store.service("default", "web") is not None


async def test_events_larger_than_a_stream_reader_line_are_received(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller()
    await eventually(ctl.ready)
    endpoints = [
        fake.endpoint(f"10.{i // 250}.{i % 250}.1", hostname=f"host-{i:04d}", pod=f"pod-{i:04d}")
        for i in range(1000)
    ]
    api.create(fake.endpoint_slice("big-1", service="big", endpoints=endpoints))
    await eventually(lambda: ctl.store.endpoint_slices("default", "big") != ())
    (subset,) = ctl.store.endpoints("default", "big")
    assert len(subset.addresses) == 1000

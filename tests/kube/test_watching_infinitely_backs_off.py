"""The infinite layer retries with capped, jittered backoff and stops only when told to."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from kdns.kube import client, errors, resources, store, watch
from tests.support import apiserver as fake
from tests.support.aio import eventually


def test_backoff_doubles_up_to_the_cap_with_jitter_and_resets():
    backoff = watch.Backoff(0.5, 30.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(30.0, 0.5 * 2**i) for i in range(10)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 30.0
    backoff.reset()
    assert backoff.next_delay() <= 0.5


async def test_an_unreachable_server_is_retried_with_growing_delays(caplog):
    api = client.Client(client.Source(endpoint="http://127.0.0.1:1"), connect_timeout=1.0)
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    settings = watch.Settings(backoff_base=0.5, backoff_cap=4.0)
    try:
        await watch.infinite_watch(
            api,
            resources.SERVICES,
            store.Store().sink("services"),
            settings=settings,
            params={},
            iterations=6,
            sleep=sleep,
        )
    finally:
        await api.close()
    assert len(sleeps) == 6
    assert sleeps[-1] > sleeps[0] and max(sleeps) <= 4.0
    failures = [r for r in caplog.records if "cannot list services" in r.getMessage()]
    assert len(failures) == 1  # one line per change of state, not one per retry


async def test_a_stream_ending_normally_is_rewatched_from_its_revision(
    api, make_controller, caplog
):
    caplog.set_level(logging.DEBUG, "kdns.plugin.kubernetes")
    api.create(fake.namespace("default"))
    ctl = await make_controller(watch_timeout=(1.0, 1.0))
    await eventually(ctl.ready)
    api.create(fake.service("web", cluster_ips=["10.96.0.1"]))
    await eventually(lambda: len(api.watch_requests("services")) >= 2, timeout=3.0)
    second = api.watch_requests("services")[1].query
    assert second["timeoutSeconds"] == "1"
    assert int(second["resourceVersion"]) >= int(
        api.get("services", "default", "web")["metadata"]["resourceVersion"]
    )
    assert len(api.list_requests("services")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_error_event_other_than_410_is_retried(monkeypatch, api, make_controller, caplog):
    api.create(fake.namespace("default"))
    events = [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "code": 500,
                "message": "etcd is sad",
                "reason": "InternalError",
            },
        },
    ]
    real = watch.stream_events
    calls = 0

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            for event in events:
                yield event
            return
        async for event in real(*args, **kwargs):
            yield event

    monkeypatch.setattr(watch, "stream_events", flaky)
    ctl = await make_controller(noendpoints=True)
    await eventually(ctl.ready)
    api.create(fake.service("web", cluster_ips=["10.96.0.1"]))
    await eventually(lambda: ctl.store.service("default", "web") is not None)
    assert "500 InternalError: etcd is sad" in caplog.text


async def test_unknown_event_types_are_skipped(api, make_controller, caplog, monkeypatch):
    api.create(fake.namespace("default"))
    real = watch.stream_events

    async def odd(*args, **kwargs):
        yield {"type": "SURPRISE", "object": {"metadata": {"resourceVersion": "1"}}}
        async for event in real(*args, **kwargs):
            yield event

    monkeypatch.setattr(watch, "stream_events", odd)
    ctl = await make_controller(noendpoints=True)
    await eventually(ctl.ready)
    api.create(fake.service("web", cluster_ips=["10.96.0.1"]))
    await eventually(lambda: ctl.store.service("default", "web") is not None)
    assert "ignoring unknown watch event type 'SURPRISE'" in caplog.text


async def test_stop_cancels_every_task_and_closes_the_session(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller(pods_mode="verified")
    await eventually(ctl.ready)
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert {
        "kdns-kube-watch-services",
        "kdns-kube-watch-endpointslices",
        "kdns-kube-watch-namespaces",
        "kdns-kube-watch-pods",
    } <= names
    await ctl.stop()
    assert not any(t.get_name().startswith("kdns-kube-") for t in asyncio.all_tasks())
    assert ctl.ready()  # readiness never flips back, even when stopped


async def test_wait_ready_gives_up_after_the_timeout(api, make_controller):
    await api.stop()
    ctl = await make_controller()
    assert await ctl.wait_ready(0.2) is False
    await api.start()
    assert await ctl.wait_ready(2.0) is True


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (410, errors.Gone),
        (429, errors.TooManyRequests),
        (418, errors.APIClientError),
        (503, errors.APIServerError),
    ],
)
def test_api_errors_are_classified_by_status(status, cls):
    err = errors.from_body(status, b'{"kind":"Status","message":"' + b"x" * 1000 + b'"}')
    assert type(err) is cls and err.status == status
    assert len(err.message) <= errors.MAX_MESSAGE


def test_non_status_bodies_contribute_no_message():
    err = errors.from_body(500, b'{"kind":"Secret","data":{"password":"hunter2"}}')
    assert err.message == "" and "hunter2" not in str(err)
    assert errors.from_body(502, b"<html>bad gateway</html>").message == ""

"""An API server restored from an etcd backup makes resourceVersions go backwards: relist.

After the restore the cache's last revision is newer than anything the server has. A watch
from it either hangs (etcd waits for that revision) or is refused with a 504 "Too large
resource version"; either way it never delivers the restored state. The cache must notice
and relist, reconciling as after a 410: objects gone since the backup are removed, objects
created after the restore are served.
"""

from __future__ import annotations

import pytest

from kdns.kube import errors, watch
from tests.support import apiserver as fake
from tests.support.aio import eventually


@pytest.mark.parametrize("too_large_as_http", [False, True], ids=["watch-hangs", "http-504"])
async def test_a_restore_that_rewinds_the_revision_relists(api, make_controller, too_large_as_http):
    api.too_large_as_http = too_large_as_http
    api.too_large_wait = 0.2
    api.create(fake.namespace("default"))
    api.create(fake.service("listed", cluster_ips=["10.96.0.1"]))
    backup = api.backup()
    for i in range(5):
        api.create(fake.service(f"after-backup-{i}", cluster_ips=[f"10.96.1.{i}"]))
    ctl = await make_controller()
    await eventually(lambda: ctl.ready() and ctl.store.service("default", "after-backup-4"))
    await eventually(lambda: api.open_watches == 3)

    await api.stop()
    api.restore(backup)
    await api.start()
    api.create(fake.service("new", cluster_ips=["10.96.0.3"]))

    await eventually(
        lambda: (
            ctl.store.service("default", "new") is not None
            and ctl.store.service("default", "after-backup-0") is None
        ),
        timeout=15,
    )
    assert ctl.store.service("default", "listed") is not None
    assert ctl.store.services_by_ip("10.96.1.0") == ()
    # Changes after the relist arrive through the watch again.
    api.update(fake.service("listed", cluster_ips=["10.96.0.1"], labels={"changed": "yes"}))
    api.create(fake.service("later", cluster_ips=["10.96.0.4"]))
    await eventually(lambda: ctl.store.service("default", "later") is not None, timeout=15)


async def test_an_event_older_than_the_last_revision_relists(api, make_controller, monkeypatch):
    api.create(fake.namespace("default"))
    api.create(fake.service("listed", cluster_ips=["10.96.0.1"]))
    ctl = await make_controller(noendpoints=True)
    await eventually(lambda: ctl.ready() and api.open_watches == 2)
    lists = len(api.list_requests("services"))
    real = watch.stream_events

    async def rewound(api_, path, params, **kwargs):
        if path.endswith("/services"):
            stale = fake.service("stale", cluster_ips=["10.96.0.9"])
            stale["metadata"]["resourceVersion"] = "1"
            yield {"type": "ADDED", "object": stale}
        async for event in real(api_, path, params, **kwargs):
            yield event

    monkeypatch.setattr(watch, "stream_events", rewound)
    api.drop_watches()
    await eventually(lambda: len(api.list_requests("services")) > lists, timeout=10)
    await eventually(lambda: ctl.store.service("default", "listed") is not None)
    assert ctl.store.service("default", "stale") is None


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        (
            apiserver_too_large := {
                "reason": "Timeout",
                "message": "Timeout: Too large resource version: 9, current: 4",
                "details": {"causes": [{"reason": "ResourceVersionTooLarge"}]},
            },
            True,
        ),
        ({"reason": "Timeout", "message": "Too large resource version: 9, current: 4"}, True),
        ({"reason": "Timeout", "message": "request did not complete"}, False),
    ],
)
def test_too_large_resource_version_is_recognised_as_client_go_does(status, ok):
    err = errors.from_status(504, {"kind": "Status", "code": 504, **status})
    assert errors.is_too_large_resource_version(err) is ok

"""An API server restored from an etcd backup is behind the resourceVersion the cache holds:
its watches answer 504 "Too large resource version" (the real watch cache's answer). The cache
relists instead of retrying that revision for ever, and follows the restored cluster."""

from __future__ import annotations

from tests.fakes import apiserver as fake
from tests.fakes.aio import eventually


async def test_a_restored_api_server_is_followed_within_a_bound(api, make_controller, caplog):
    api.too_large_wait = 0.2
    api.create(fake.namespace("default"))
    api.create(fake.service("listed", cluster_ips=["10.96.0.1"]))
    backup = api.backup()
    api.create(fake.service("lost", cluster_ips=["10.96.0.2"]))
    for i in range(5):
        api.update(fake.service("lost", cluster_ips=["10.96.0.2"], labels={"n": str(i)}))
    ctl = await make_controller()
    await eventually(lambda: ctl.ready() and ctl.store.service("default", "lost") is not None)

    # etcd is restored from the backup; afterwards the cluster moves on from the old revision.
    api.restore(backup)
    api.create(fake.service("new", cluster_ips=["10.96.0.3"]))

    await eventually(
        lambda: (
            ctl.store.service("default", "new") is not None
            and ctl.store.service("default", "lost") is None
        ),
        timeout=10,
    )
    assert ctl.store.service("default", "listed") is not None
    assert "Too large resource version" in caplog.text
    # And it keeps following: a change after the relist arrives through the watch.
    api.create(fake.service("later", cluster_ips=["10.96.0.4"]))
    await eventually(lambda: ctl.store.service("default", "later") is not None, timeout=10)

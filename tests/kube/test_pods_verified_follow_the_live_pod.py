"""With ``pods verified`` the pod watch keeps IP -> pod right through terminations and IP reuse."""

from __future__ import annotations

import pytest

from tests.support import apiserver as fake
from tests.support.aio import eventually

IP = "10.244.7.7"


def owners(ctl):
    return [(p.namespace, p.name) for p in ctl.store.pods_by_ip(IP)]


@pytest.mark.parametrize("order", ["delete-then-add", "add-then-delete"])
async def test_pod_ip_reused_in_another_namespace(api, make_controller, order):
    api.create(fake.namespace("a"))
    api.create(fake.namespace("b"))
    api.create(fake.pod("old", "a", ip=IP))
    ctl = await make_controller(pods_mode="verified")
    await eventually(lambda: ctl.ready() and owners(ctl) == [("a", "old")])

    if order == "delete-then-add":
        api.delete(fake.pod("old", "a"))
        api.create(fake.pod("new", "b", ip=IP))
    else:
        api.create(fake.pod("new", "b", ip=IP))
        api.delete(fake.pod("old", "a"))
    await eventually(lambda: owners(ctl) == [("b", "new")])


async def test_terminating_pods_stay_until_deleted_and_new_ones_are_ignored(api, make_controller):
    api.create(fake.namespace("default"))
    api.create(fake.pod("leaving", ip=IP))
    api.create(fake.pod("born-terminating", ip="10.244.7.8", deleting=True))
    ctl = await make_controller(pods_mode="verified")
    await eventually(ctl.ready)
    assert ctl.store.pods_by_ip("10.244.7.8") == ()

    api.update(fake.pod("leaving", ip=IP, deleting=True))
    api.create(fake.pod("marker", ip="10.244.7.9"))
    await eventually(lambda: ctl.store.pods_by_ip("10.244.7.9") != ())
    assert owners(ctl) == [("default", "leaving")]
    api.delete(fake.pod("leaving"))
    await eventually(lambda: owners(ctl) == [])


async def test_a_pod_reaching_a_terminal_phase_leaves_the_cache(api, make_controller):
    api.create(fake.namespace("default"))
    api.create(fake.pod("job", ip=IP))
    ctl = await make_controller(pods_mode="verified")
    await eventually(lambda: ctl.ready() and owners(ctl) == [("default", "job")])
    # The field selector excludes Succeeded pods, so the watch reports the pod as DELETED.
    api.update(fake.pod("job", ip=IP, phase="Succeeded"))
    await eventually(lambda: owners(ctl) == [])

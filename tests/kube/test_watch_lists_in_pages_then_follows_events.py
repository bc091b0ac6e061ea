"""The first sync lists in pages; afterwards every change arrives through the watch at once."""

from __future__ import annotations

from tests.support import apiserver as fake
from tests.support.aio import eventually


async def test_initial_list_is_paged_with_limit_and_continue(api, make_controller):
    api.create(fake.namespace("default"))
    for i in range(5):
        api.create(fake.service(f"svc{i}", cluster_ips=[f"10.96.0.{i + 1}"]))

    ctl = await make_controller(page_size=2)
    await eventually(ctl.ready)

    pages = api.list_requests("services")
    assert [r.query.get("limit") for r in pages] == ["2", "2", "2"]
    assert "continue" not in pages[0].query
    assert all("continue" in r.query for r in pages[1:])
    assert "resourceVersion" not in pages[0].query  # a consistent read, so paging works
    assert sorted(s.name for s in ctl.store.services()) == [f"svc{i}" for i in range(5)]


async def test_watch_starts_from_the_list_revision_with_bookmarks(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller()
    await eventually(lambda: ctl.ready() and bool(api.watch_requests("services")))

    query = api.watch_requests("services")[0].query
    assert query["watch"] == "1"
    assert query["allowWatchBookmarks"] == "true"
    assert query["resourceVersion"] == str(api.rv)  # the revision the list returned
    assert 300 <= int(query["timeoutSeconds"]) <= 600  # client-go's 5-10 minutes


async def test_create_update_delete_reach_the_store_within_100ms(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller()
    await eventually(lambda: len(api.watch_requests()) >= 3)

    api.create(fake.service("web", cluster_ips=["10.96.1.1"]))
    took = await eventually(lambda: ctl.store.service("default", "web") is not None)
    assert took < 0.1

    api.update(fake.service("web", cluster_ips=["10.96.1.1"], ports=[{"name": "dns", "port": 53}]))
    took = await eventually(lambda: ctl.store.service("default", "web").ports[0].port == 53)
    assert took < 0.1

    api.delete(fake.service("web"))
    took = await eventually(lambda: ctl.store.service("default", "web") is None)
    assert took < 0.1
    assert ctl.store.services_by_ip("10.96.1.1") == ()

"""A 410 Expired (as an ERROR event or an HTTP status) makes the cache relist and reconcile."""

from __future__ import annotations

import pytest

from tests.support import apiserver as fake
from tests.support.aio import eventually


@pytest.mark.parametrize("expired_as_http", [False, True], ids=["error-event", "http-410"])
async def test_relist_after_410_reconciles_the_gap(api, make_controller, expired_as_http):
    api.expired_as_http = expired_as_http
    api.create(fake.namespace("default"))
    api.create(fake.service("gone", cluster_ips=["10.96.0.1"]))
    api.create(fake.service("kept", cluster_ips=["10.96.0.2"]))
    api.create(fake.endpoint_slice("kept-1", service="kept", endpoints=[fake.endpoint("10.1.0.1")]))
    ctl = await make_controller()
    await eventually(lambda: ctl.ready() and api.open_watches == 3)
    changes = []
    ctl.store.subscribe(changes.append)
    lists = len(api.list_requests("services"))

    # The API server goes away; meanwhile the cluster changes and etcd compacts its history.
    await api.stop()
    api.delete(fake.service("gone"))
    api.create(fake.service("new", cluster_ips=["10.96.0.3"]))
    api.update(fake.service("kept", cluster_ips=["10.96.0.2"], labels={"irrelevant": "yes"}))
    api.compact()
    assert ctl.store.service("default", "gone") is not None  # still serving last-known data
    await api.start()

    await eventually(
        lambda: (
            ctl.store.service("default", "new") is not None
            and ctl.store.service("default", "gone") is None
        )
    )
    assert len(api.list_requests("services")) > lists
    assert sorted(changes) == [("service", "default", "gone"), ("service", "default", "new")]
    assert ctl.store.services_by_ip("10.96.0.1") == ()
    assert ctl.store.endpoints("default", "kept")[0].addresses[0].address == "10.1.0.1"
    if expired_as_http:
        assert any(r.watch for r in api.requests[-8:])


async def test_an_expired_continue_token_restarts_the_list(api, make_controller):
    api.create(fake.namespace("default"))
    for i in range(6):
        api.create(fake.service(f"s{i}", cluster_ips=["None"]))

    def compact_before_third_page(request):
        if request.path == "/api/v1/services" and request.query.get("continue"):
            api.on_request = None
            api.delete(fake.service("s5"))
            api.compact()

    api.on_request = compact_before_third_page
    ctl = await make_controller(page_size=2)
    await eventually(ctl.ready)
    assert sorted(s.name for s in ctl.store.services()) == ["s0", "s1", "s2", "s3", "s4"]
    firsts = [r for r in api.list_requests("services") if "continue" not in r.query]
    assert len(firsts) == 2

"""The fake API server answers like the real one where a watching client can tell."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.support import apiserver as fake


@pytest.fixture
async def http(api):
    headers = {"Authorization": f"Bearer {api.token}"}
    async with aiohttp.ClientSession(base_url=api.url, headers=headers) as session:
        yield session


async def events(response: aiohttp.ClientResponse) -> list[dict]:
    return [json.loads(line) async for line in response.content if line.strip()]


async def test_list_items_carry_no_kind_and_every_object_has_metadata(api, http):
    api.create(fake.service("web"))
    async with http.get("/api/v1/services") as response:
        body = await response.json()
    assert (body["kind"], body["apiVersion"]) == ("ServiceList", "v1")
    (item,) = body["items"]
    assert "kind" not in item and "apiVersion" not in item
    assert {"uid", "resourceVersion", "creationTimestamp"} <= item["metadata"].keys()
    assert body["metadata"]["resourceVersion"] == str(api.rv)


async def test_pages_are_one_snapshot_even_when_objects_change_between_them(api, http):
    for i in range(4):
        api.create(fake.service(f"s{i}"))
    async with http.get("/api/v1/services", params={"limit": "2"}) as response:
        first = await response.json()
    api.delete(fake.service("s3"))
    api.create(fake.service("s4"))
    token = first["metadata"]["continue"]
    async with http.get("/api/v1/services", params={"limit": "2", "continue": token}) as response:
        second = await response.json()
    names = [i["metadata"]["name"] for i in first["items"] + second["items"]]
    assert names == ["s0", "s1", "s2", "s3"]
    assert "continue" not in second["metadata"]

    api.compact()
    async with http.get("/api/v1/services", params={"limit": "2", "continue": token}) as response:
        assert response.status == 410
        assert (await response.json())["reason"] == "Expired"


async def test_watch_without_revision_starts_with_synthetic_adds(api, http):
    api.create(fake.service("web"))
    params = {"watch": "true", "timeoutSeconds": "1"}
    async with http.get("/api/v1/namespaces/default/services", params=params) as response:
        got = await events(response)  # ends cleanly when timeoutSeconds runs out
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "web")]
    assert got[0]["object"]["kind"] == "Service"


async def test_bookmarks_carry_only_the_revision(api, http):
    params = {
        "watch": "1",
        "resourceVersion": str(api.rv),
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "1",
    }
    async with http.get("/api/v1/pods", params=params) as response:
        got = await events(response)
    assert got and all(e["type"] == "BOOKMARK" for e in got)
    assert got[0]["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(api.rv)},
    }


async def test_a_compacted_revision_is_an_error_event_or_an_http_410(api, http):
    old = str(api.rv)
    api.create(fake.namespace("x"))
    api.compact()
    async with http.get("/api/v1/namespaces", params={"watch": "1", "resourceVersion": old}) as r:
        assert r.status == 200
        (event,) = await events(r)
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")

    api.expired_as_http = True
    async with http.get("/api/v1/namespaces", params={"watch": "1", "resourceVersion": old}) as r:
        assert r.status == 410


async def test_auth_and_rbac_answers_are_status_objects(api, http):
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(api.url + "/api/v1/services") as response,
    ):
        assert response.status == 401
        assert (await response.json())["reason"] == "Unauthorized"
    api.forbid("pods")
    params = {"watch": "1"}
    async with http.get("/api/v1/namespaces/kube-system/pods", params=params) as response:
        body = await response.json()
    assert response.status == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:kube-system:kdns" cannot watch '
        'resource "pods" in API group "" in the namespace "kube-system"'
    )


async def test_selectors_filter_and_bad_ones_are_400(api, http):
    api.create(fake.pod("a", ip="10.0.0.1", labels={"app": "x", "tier": "web"}))
    api.create(fake.pod("b", ip="10.0.0.2", labels={"app": "y"}, phase="Failed"))
    api.create(fake.pod("c", ip="10.0.0.3"))
    cases = {
        "app in (x,y),!tier": ["b"],
        "app notin (x)": ["b", "c"],
        "app,tier==web": ["a"],
        "app!=x": ["b", "c"],
    }
    for selector, expected in cases.items():
        async with http.get("/api/v1/pods", params={"labelSelector": selector}) as response:
            names = [i["metadata"]["name"] for i in (await response.json())["items"]]
        assert names == expected, selector
    params = {"fieldSelector": "status.phase!=Failed,metadata.namespace=default"}
    async with http.get("/api/v1/pods", params=params) as response:
        names = [i["metadata"]["name"] for i in (await response.json())["items"]]
    assert names == ["a", "c"]
    async with http.get("/api/v1/pods", params={"fieldSelector": "spec.bogus=1"}) as response:
        assert response.status == 400


async def test_restart_keeps_the_port_and_the_data(api, http):
    port = api.port
    api.create(fake.service("web"))
    await api.restart()
    assert api.port == port
    async with http.get("/api/v1/services") as response:
        assert len((await response.json())["items"]) == 1


async def test_a_restore_rewinds_the_revision_and_too_new_watches_wait_or_get_504(api, http):
    api.create(fake.service("kept"))
    backup = api.backup()
    api.create(fake.service("lost"))
    newest = api.rv
    api.restore(backup)
    async with http.get("/api/v1/services") as response:
        body = await response.json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["kept"]
    assert int(body["metadata"]["resourceVersion"]) < newest

    # etcd waits for the revision: the stream stays silent, not even a bookmark.
    params = {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "1"}
    async with http.get("/api/v1/services", params={**params, "resourceVersion": str(newest)}) as r:
        assert r.status == 200
        assert await events(r) == []

    # The watch cache gives up after a while with apimachinery's "Too large resource version".
    api.too_large_as_http = True
    api.too_large_wait = 0.1
    async with http.get("/api/v1/services", params={**params, "resourceVersion": str(newest)}) as r:
        status = await r.json()
    assert (r.status, status["code"], status["reason"]) == (504, 504, "Timeout")
    assert "Too large resource version" in status["message"]
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"

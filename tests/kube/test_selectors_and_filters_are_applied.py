"""Options become API selectors (checked in the server's request log) or ingest filters."""

from __future__ import annotations

from kdns.kube import controller
from tests.support import apiserver as fake
from tests.support.aio import eventually


async def test_labels_namespace_labels_and_pod_phases_are_sent_as_selectors(api, make_controller):
    api.create(fake.namespace("default", labels={"team": "a"}))
    api.create(fake.namespace("other", labels={"team": "z"}))
    api.create(fake.service("web", labels={"expose": "dns"}, cluster_ips=["10.96.0.1"]))
    api.create(fake.service("hidden", cluster_ips=["10.96.0.2"]))
    api.create(fake.pod("done", ip="10.244.0.1", phase="Succeeded", labels={"expose": "dns"}))
    api.create(fake.pod("running", ip="10.244.0.2", labels={"expose": "dns"}))
    ctl = await make_controller(
        labels="expose=dns", namespace_labels="team in (a,b)", pods_mode="verified"
    )
    await eventually(lambda: ctl.ready() and api.open_watches == 4)

    for plural in ("services", "endpointslices", "pods", "namespaces"):
        for request in api.list_requests(plural) + api.watch_requests(plural):
            expected = "team in (a,b)" if plural == "namespaces" else "expose=dns"
            assert request.query["labelSelector"] == expected, request
            if plural == "pods":
                assert request.query["fieldSelector"] == controller.POD_FIELD_SELECTOR
            else:
                assert "fieldSelector" not in request.query
    assert ctl.store.namespaces() == ("default",)
    assert [s.name for s in ctl.store.services()] == ["web"]
    assert [p.name for p in ctl.store.pods_by_ip("10.244.0.2")] == ["running"]
    assert ctl.store.pods_by_ip("10.244.0.1") == ()

    # An object that stops matching is delivered as DELETED by the watch, as the real server does.
    api.update(fake.service("web", labels={"expose": "no"}, cluster_ips=["10.96.0.1"]))
    await eventually(lambda: ctl.store.service("default", "web") is None)


async def test_noendpoints_and_no_pods_mean_no_such_watches(api, make_controller):
    api.create(fake.namespace("default"))
    ctl = await make_controller(noendpoints=True, pods_mode="insecure")
    await eventually(ctl.ready)
    watched = {r.path for r in api.requests}
    assert watched == {"/api/v1/services", "/api/v1/namespaces"}
    assert ctl.store.watched == frozenset({"services", "namespaces"})


async def test_namespaces_option_watches_cluster_wide_and_keeps_only_those(api, make_controller):
    for ns in ("prod", "dev"):
        api.create(fake.namespace(ns))
        api.create(fake.service("web", ns, cluster_ips=[f"10.96.{len(ns)}.1"]))
    ctl = await make_controller(namespaces=frozenset({"prod"}))
    await eventually(ctl.ready)
    assert all(not r.path.startswith("/api/v1/namespaces/") for r in api.requests)
    assert ctl.store.namespace_exists("prod") and not ctl.store.namespace_exists("dev")
    assert [s.namespace for s in ctl.store.services()] == ["prod"]
    api.create(fake.service("db", "dev", cluster_ips=["10.96.9.9"]))
    api.create(fake.service("db", "prod", cluster_ips=["10.96.9.8"]))
    await eventually(lambda: ctl.store.service("prod", "db") is not None)
    assert ctl.store.service("dev", "db") is None

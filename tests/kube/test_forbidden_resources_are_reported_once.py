"""A 403 names verb, resource and API group once, keeps retrying, and keeps /ready false."""

from __future__ import annotations

import asyncio
import logging

from tests.support import apiserver as fake
from tests.support.aio import eventually

EXPECTED = (
    "plugin/kubernetes: cannot list endpointslices.discovery.k8s.io: forbidden; "
    'grant list,watch on endpointslices in API group "discovery.k8s.io"'
)


async def test_forbidden_endpointslices_log_one_actionable_line(api, make_controller, caplog):
    caplog.set_level(logging.INFO, "kdns.plugin.kubernetes")
    api.create(fake.namespace("default"))
    api.forbid("endpointslices")
    ctl = await make_controller()

    await eventually(lambda: len(api.list_requests("endpointslices")) >= 4)
    await asyncio.sleep(0.1)
    assert not ctl.ready()
    assert ctl.store.synced("services") and ctl.store.synced("namespaces")
    forbidden = [r for r in caplog.records if ": forbidden;" in r.getMessage()]
    assert [r.getMessage() for r in forbidden] == [EXPECTED]
    assert forbidden[0].levelno >= logging.WARNING

    # Once the ClusterRole is fixed the cache syncs without a restart, and says so once.
    api.forbid("endpointslices", False)
    await eventually(ctl.ready, timeout=2.0)
    assert "plugin/kubernetes: watching endpointslices.discovery.k8s.io again" in caplog.text


async def test_forbidden_core_resources_name_the_core_group(api, make_controller, caplog):
    api.forbid("namespaces")
    ctl = await make_controller()
    await eventually(lambda: len(api.list_requests("namespaces")) >= 2)
    assert not ctl.ready()
    (line,) = [r.getMessage() for r in caplog.records if ": forbidden;" in r.getMessage()]
    assert line == (
        "plugin/kubernetes: cannot list namespaces: forbidden; grant list,watch on namespaces "
        'in API group ""'
    )

"""Fixtures for the Kubernetes cache: a fake API server, a kubeconfig for it, fast controllers."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

# `python -m pytest` puts the repository root on sys.path; plain `pytest` does not.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from kdns.kube import controller  # noqa: E402
from tests.support import apiserver  # noqa: E402

#: Timings small enough for a fast suite, large enough not to flap on a loaded machine.
FAST: dict[str, Any] = {
    "inactivity_timeout": 1.5,
    "backoff_base": 0.05,
    "backoff_cap": 0.3,
    "page_size": 2,
    "connect_timeout": 1.0,
    "request_timeout": 5.0,
}


@pytest.fixture
def fast() -> dict[str, Any]:
    """Option overrides with the fast timings, for tests that build their own controller."""
    return dict(FAST)


@pytest.fixture
async def api() -> AsyncIterator[apiserver.FakeAPIServer]:
    server = apiserver.FakeAPIServer(bookmark_interval=0.2)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def kubeconfig(api: apiserver.FakeAPIServer, tmp_path: Path) -> Path:
    return api.write_kubeconfig(tmp_path / "kubeconfig", token=api.token)


ControllerFactory = Callable[..., Awaitable[controller.Controller]]


@pytest.fixture
async def make_controller(kubeconfig: Path) -> AsyncIterator[ControllerFactory]:
    """Start controllers on the fake server's kubeconfig; stops them all at teardown."""
    started: list[controller.Controller] = []

    async def make(**overrides: Any) -> controller.Controller:
        options = controller.KubeOptions(**{"kubeconfig": str(kubeconfig), **FAST, **overrides})
        ctl = controller.Controller(options)
        started.append(ctl)
        await ctl.start()
        return ctl

    yield make
    for ctl in started:
        await ctl.stop()

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def dig() -> str:
    """Path of dig; tests/run.sh installs it (Debian bind9-dnsutils), so its absence is a failure."""
    path = shutil.which("dig")
    assert path is not None, "dig is missing: run the tests with tests/run.sh"
    return path

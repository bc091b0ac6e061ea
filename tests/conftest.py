from __future__ import annotations

import resource
import shutil

import pytest

# Tests hold up to 1,000 TCP connections at once; the 1,024 descriptors processes start with
# would leave no room for the rest (kdns lifts its own limit the same way).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != resource.RLIM_INFINITY and _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 1 << 16), _hard))


@pytest.fixture
def dig() -> str:
    """Path of dig; tests/run.sh installs it (Debian bind9-dnsutils), so its absence is a failure."""
    path = shutil.which("dig")
    assert path is not None, "dig is missing: run the tests with tests/run.sh"
    return path

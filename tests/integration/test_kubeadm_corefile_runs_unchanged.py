"""kubeadm's Corefile (Corefile.example, shipped in deploy/) runs unchanged and serves.

Port 53, :8080, :8181, :9153, in-cluster service-account credentials and /etc/resolv.conf
are all the real ones kubeadm's Corefile names, so the test runs in a network and mount
namespace of its own (as root, or as root of a user namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def unshare_prefix() -> list[str]:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is missing")
    prefix = ["unshare", "--net", "--mount", "--fork"]
    if os.geteuid() != 0:
        prefix.insert(1, "--map-root-user")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create namespaces here: {probe.stderr.strip()}")
    return prefix


def test_kubeadm_corefile_serves_cluster_and_forwarded_names() -> None:
    prefix = unshare_prefix()
    out = subprocess.run(
        [*prefix, sys.executable, "-m", "tests.integration.kubeadm_in_netns"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stdout[-3000:] + out.stderr[-3000:]
    seen = json.loads(lines[-1][len("RESULT ") :])
    context = seen["output"]
    assert seen["ready"] == 200, context
    assert seen["health"] == 200 and seen["metrics"] == 200, context
    assert seen["cluster"] == ["NOERROR", ["10.96.0.20"]], context
    assert seen["cluster_tcp"] == ["NOERROR", ["10.96.0.20"]], context
    assert seen["cluster_nx"] == ["NXDOMAIN", []], context
    assert seen["pod"] == ["NOERROR", ["10.1.2.3"]], context
    assert seen["ptr"] == ["NOERROR", ["my-app.default.svc.cluster.local."]], context
    assert seen["forwarded"] == ["NOERROR", ["192.0.2.10"]], context
    assert seen["forwarded_mx"] == ["NOERROR", ["10 mail.example.org."]], context
    assert seen["forwarded_nx"][0] == "NXDOMAIN", context
    assert seen["loop_fatal"] is False, context
    assert seen["exit"] == 0, context

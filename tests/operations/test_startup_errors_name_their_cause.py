"""A listener that cannot open stops startup with one line naming the cause, and exit 1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import kdnsproc
from tests.server import helpers


def run(corefile: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **helpers.child_env(), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kdns", "-conf", str(corefile)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_port_in_use(tmp_path: Path) -> None:
    port = kdnsproc.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        (tmp_path / "Corefile").write_text(f".:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n")
        out = run(tmp_path / "Corefile")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("Listen:") and "another process is listening" in lines[0]


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody"
)
def test_privileged_port_without_capability(tmp_path: Path) -> None:
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 53:
        pytest.skip("this machine lets anyone bind port 53")
    (tmp_path / "Corefile").write_text(".:53 {\n    bind 127.0.0.1\n    whoami\n}\n")
    # Drop CAP_NET_BIND_SERVICE from the bounding set: even root cannot bind port 53 then.
    prefix = ("setpriv", "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service")
    out = run(tmp_path / "Corefile", *(prefix if os.geteuid() == 0 else ()))
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "CAP_NET_BIND_SERVICE" in lines[0] and "ip_unprivileged_port_start" in lines[0]


def test_kubernetes_source_that_cannot_load_blames_its_line(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(
        f".:{kdnsproc.free_port()} {{\n"
        "    bind 127.0.0.1\n"
        "    kubernetes cluster.local {\n"
        "        kubeconfig /nonexistent/kubeconfig\n"
        "    }\n"
        "}\n"
    )
    out = run(corefile)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"plugin/kubernetes: {corefile}:4 - Error during parsing: "), lines
    assert "/nonexistent/kubeconfig" in lines[0]

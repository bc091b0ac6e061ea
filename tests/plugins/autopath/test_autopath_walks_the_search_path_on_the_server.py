"""autopath @kubernetes: a known pod's first search-path query is answered in one round trip.

USER-NEEDS #8: a query from a known pod IP for ``example.org.NS.svc.cluster.local`` gets a
CNAME to ``example.org.`` plus its records; a client with an unknown IP is answered as if
autopath were off (NXDOMAIN for the expanded name).
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from tests.support import apiserver as fa
from tests.support import clients, kdnsproc

EXTERNAL = """\
zone: example.org
records:
  "@": {A: 192.0.2.10}
"""


def dig(port: int, name: str, source: str) -> str:
    out = subprocess.run(
        [
            "dig",
            "@127.0.0.1",
            "-p",
            str(port),
            "-b",
            source,
            name,
            "A",
            "+noall",
            "+answer",
            "+comments",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout


@pytest.mark.usefixtures("dig")
async def test_known_pod_gets_cname_unknown_client_gets_nxdomain(tmp_path: Path) -> None:
    api = fa.FakeAPIServer()
    await api.start()
    try:
        api.create(fa.namespace("default"))
        api.create(fa.pod("client", "default", ip="127.0.0.1"))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        (tmp_path / "ext.yaml").write_text(EXTERNAL)
        port = kdnsproc.free_port()
        (tmp_path / "Corefile").write_text(
            f".:{port} {{\n    bind 127.0.0.1\n    autopath @kubernetes\n"
            f"    kubernetes cluster.local {{\n        kubeconfig {kubeconfig}\n        pods verified\n    }}\n"
            "    records ext.yaml\n}\n"
        )
        proc = kdnsproc.KdnsProcess(
            ["-conf", str(tmp_path / "Corefile")], cwd=str(tmp_path), env=clients.child_env()
        )
        try:
            await asyncio.to_thread(kdnsproc.wait_serving, "127.0.0.1", port, proc)
            name = "example.org.default.svc.cluster.local."
            for _ in range(50):
                known = await asyncio.to_thread(dig, port, name, "127.0.0.1")
                if "NOERROR" in known:
                    break
                await asyncio.sleep(0.1)
            assert "status: NOERROR" in known, known + proc.output
            answer = [
                line.split() for line in known.splitlines() if line and not line.startswith(";")
            ]
            assert answer == [
                [name, "300", "IN", "CNAME", "example.org."],
                ["example.org.", "300", "IN", "A", "192.0.2.10"],
            ], known
            unknown = await asyncio.to_thread(dig, port, name, "127.0.0.9")
            assert "status: NXDOMAIN" in unknown, unknown
            # A name outside the client's first search domain is left alone.
            other = await asyncio.to_thread(
                dig, port, "example.org.svc.cluster.local.", "127.0.0.1"
            )
            assert "status: NXDOMAIN" in other, other
        finally:
            assert proc.stop() == 0, proc.output
    finally:
        await api.stop()


def test_autopath_needs_kubernetes_in_the_block(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(".:1 {\n    autopath @kubernetes\n    whoami\n}\n")
    out = clients.run_kdns(["-conf", str(tmp_path / "Corefile")], cwd=tmp_path)
    assert out.returncode == 1
    assert "Corefile:2 - Error during parsing:" in out.stderr

"""glibc's stub resolver, configured exactly as kubelet configures a pod, against kdns on port 53
(USER-NEEDS #3): short names complete through the search path, under every resolver option
users turn on against the conntrack race (single-request, single-request-reopen, use-vc).

The lookups run in a network and mount namespace of their own: its loopback carries kdns on
port 53 and the fake API server, and ``/etc/resolv.conf`` is bind-mounted there from a file of
this test, so the host's resolver configuration is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration import netns_resolver

pytestmark = [pytest.mark.netns, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _unshare() -> list[str]:
    """The unshare command for a private network and mount namespace, or skip saying why."""
    missing = [tool for tool in ("unshare", "ip", "getent", "mount") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing tools for network namespaces: {', '.join(missing)}")
    if os.geteuid() == 0:
        prefix = ["unshare", "--net", "--mount"]
    else:
        # Without root, a user namespace maps us to root inside it (port 53, mount --bind).
        prefix = ["unshare", "--user", "--map-root-user", "--net", "--mount"]
    probe = subprocess.run(
        [*prefix, "sh", "-c", "ip link set lo up && mount --bind /dev/null /dev/null"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(
            f"cannot create network+mount namespaces with {' '.join(prefix)}: {probe.stderr.strip()}"
        )
    return prefix


def test_short_names_resolve_through_the_search_path(tmp_path: Path) -> None:
    prefix = _unshare()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# replaced inside the namespace\n")
    script = (
        f"mount --bind {resolv} /etc/resolv.conf && cd {ROOT} && "
        f"exec {sys.executable} -m tests.integration.netns_resolver"
    )
    done = subprocess.run(
        [*prefix, "sh", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(records) == len(netns_resolver.VARIANTS) * len(netns_resolver.LOOKUPS), done.stderr
    for r in records:
        where = f"{r['command']} with options {r['options']}"
        assert r["rc"] == 0, f"{where}: {r}\n{done.stderr[-3000:]}"
        fields = r["output"].split()
        assert fields[0] == netns_resolver.CLUSTER_IP, where
        assert "my-app.default.svc.cluster.local" in fields, where
        assert r["seconds"] < 1.0, f"{where} took {r['seconds']} s"
        # The answer came from kdns, over the transport the option asks for.
        assert r["queries"], where
        protos = {q.split()[3] for q in r["queries"]}
        assert protos == ({"tcp"} if r["options"] == "use-vc" else {"udp"}), (
            f"{where}: {r['queries']}"
        )
        # Never a SERVFAIL or REFUSED on the way: misses are NXDOMAIN, AAAA of the service NODATA.
        assert all(q.split()[-1] in ("NOERROR", "NXDOMAIN") for q in r["queries"]), r["queries"]
    # The host's own resolver configuration is untouched.
    assert Path("/etc/resolv.conf").read_text() != resolv.read_text()

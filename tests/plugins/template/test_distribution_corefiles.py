"""Distribution Corefiles that use template (AKS) or sit beside it (OpenShift) run unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kdns import config, corefile, plugins
from tests.integration.test_kubeadm_corefile_runs_unchanged import unshare_prefix

REPO = Path(__file__).resolve().parents[3]
COREFILES = Path(__file__).with_name("corefiles")


def test_aks_corefile_answers_search_junk_nxdomain_and_cluster_names() -> None:
    prefix = unshare_prefix()
    out = subprocess.run(
        [*prefix, sys.executable, "-m", "tests.plugins.template.aks_in_netns"],
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
    assert seen["search_junk"] == ["NXDOMAIN", []], context
    assert seen["search_junk_aaaa"] == ["NXDOMAIN", []], context
    # Fewer than four labels before internal.cloudapp.net: fallthrough, forwarded upstream.
    assert seen["vm"] == ["NOERROR", ["10.240.0.4"]], context
    assert seen["reddog"] == ["NXDOMAIN", []], context
    assert seen["reddog_apex"] == ["NXDOMAIN", []], context
    assert seen["kubernetes"] == ["NOERROR", ["10.0.0.1"]], context
    assert seen["cluster_nx"] == ["NXDOMAIN", []], context
    assert any('zone="internal.cloudapp.net."' in m for m in seen["matches"]), seen["matches"]
    assert "No files matching import glob pattern: custom/*.override" in context, context
    assert seen["exit"] == 0, context


def test_openshift_corefile_loads_when_bufsize_is_there(tmp_path: Path) -> None:
    if "bufsize" not in plugins.available():
        pytest.skip("bufsize is not in this tree yet (issue 11 item 4, another branch)")
    text = (COREFILES / "openshift.Corefile").read_text()
    loaded = config.load(corefile.parse(text, filename=str(tmp_path / "Corefile")))
    assert [s.port for s in loaded.servers] == [5353, 5353]


def test_openshift_corefile_needs_nothing_but_bufsize(tmp_path: Path) -> None:
    text = (COREFILES / "openshift.Corefile").read_text().replace("bufsize 1232\n", "")
    loaded = config.load(corefile.parse(text, filename=str(tmp_path / "Corefile")))
    assert [s.zones for s in loaded.servers] == [(".",), ("hostname.bind.",)]

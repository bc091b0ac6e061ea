"""kdns serves port 53 the way the Deployment runs it, and writes nothing.

An emulation of the container's security context on this machine (there is no container engine
here): every capability but NET_BIND_SERVICE dropped from the bounding set (so no
CAP_DAC_OVERRIDE either), no_new_privs (allowPrivilegeEscalation: false), the working directory
and HOME read-only, PYTHONDONTWRITEBYTECODE=1 and TMPDIR set as in deploy/deployment.yaml.
It needs root to drop capabilities, and runs as uid 0 rather than 65532 because this machine's
Python lives under /root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.support import kdnsproc, manifests

ADDRESS = "127.0.0.153"
CAP_NET_BIND_SERVICE = 10

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs Linux, root and setpriv to drop capabilities",
)


def port_53_is_free() -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((ADDRESS, 53))
            except OSError:
                return False
    return True


def snapshot(*dirs: Path) -> set[str]:
    return {str(p) for d in dirs for p in d.rglob("*")}


def test_kdns_serves_port_53_with_only_net_bind_service(tmp_path: Path) -> None:
    if not port_53_is_free():
        pytest.skip(f"{ADDRESS}:53 is taken")
    health, ready = kdnsproc.free_port(ADDRESS), kdnsproc.free_port(ADDRESS)
    conf, work, home, tmp = (tmp_path / n for n in ("conf", "work", "home", "tmp"))
    for d in (conf, work, home, tmp):
        d.mkdir()
    corefile = conf / "Corefile"
    corefile.write_text(
        f".:53 {{\n    bind {ADDRESS}\n    health {ADDRESS}:{health}\n"
        f"    ready {ADDRESS}:{ready}\n    whoami\n}}\n"
    )
    work.chmod(0o555)
    home.chmod(0o555)
    conf.chmod(0o555)
    tmp.chmod(0o1777)
    env = {e["name"]: e["value"] for e in manifests.container()["env"]}
    env.update(PATH=os.environ["PATH"], HOME=str(home), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    before = snapshot(conf, work, home, tmp)
    proc = subprocess.Popen(
        [
            "setpriv",
            "--bounding-set=-all,+net_bind_service",
            "--inh-caps=-all",
            "--no-new-privs",
            "--",
            sys.executable,
            "-m",
            "kdns",
            "-conf",
            str(corefile),
            "-quiet",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        reply = _query(proc)
        assert reply.rcode() == dns.rcode.NOERROR
        assert any(rrset.name.to_text() == "whoami.test." for rrset in reply.additional)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        caps = {k: int(v, 16) for k, v in _fields(status, "CapEff", "CapBnd", "NoNewPrivs")}
        assert caps["CapEff"] == caps["CapBnd"] == 1 << CAP_NET_BIND_SERVICE
        assert caps["NoNewPrivs"] == 1
        for port, path in ((health, "/health"), (ready, "/ready")):
            with urllib.request.urlopen(f"http://{ADDRESS}:{port}{path}", timeout=5) as r:
                assert r.status == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert snapshot(conf, work, home, tmp) == before, "kdns wrote files"


def _query(proc: subprocess.Popen[str]) -> dns.message.Message:
    deadline = time.monotonic() + 15
    q = dns.message.make_query("whoami.test.", "A")
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"kdns exited with {proc.returncode}:\n{out}")
        try:
            return dns.query.udp(q, ADDRESS, port=53, timeout=0.3)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _fields(status: str, *names: str) -> list[tuple[str, str]]:
    out = []
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in names:
            out.append((name, value.strip()))
    return out

"""Runs inside a fresh network and mount namespace (see test_kubeadm_corefile_runs_unchanged).

Sets the namespace up as a kubeadm node would look to a DNS pod: in-cluster service-account
files, KUBERNETES_SERVICE_HOST/PORT pointing at an HTTPS API server (the fake), /etc/resolv.conf
naming an upstream resolver (a second kdns on 127.0.0.53:53); then starts kdns on Corefile.example
unchanged and prints what each probe saw as one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from tests.support import apiserver as fa
from tests.support import kdnsproc, tls

REPO = Path(__file__).resolve().parents[2]
SA_DIR = Path("/run/secrets/kubernetes.io/serviceaccount")
UPSTREAM_ZONE = """\
zone: example.org
records:
  "@": {A: 192.0.2.10, MX: ["10 mail"]}
  mail: {A: 192.0.2.25}
"""
UPSTREAM_COREFILE = """\
example.org:53 {
    bind 127.0.0.53
    records upstream.yaml
}
.:53 {
    bind 127.0.0.53
    chaos upstream
}
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


def query(name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=53, timeout=3)
    return dns.query.udp(q, "127.0.0.1", port=53, timeout=3)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


async def main() -> dict[str, object]:
    sh("ip", "link", "set", "lo", "up")
    work = Path(tempfile.mkdtemp(prefix="kdns-kubeadm-"))
    sh("mount", "-t", "tmpfs", "tmpfs", "/run")
    SA_DIR.mkdir(parents=True)
    bundle = tls.make_bundle(work)
    (SA_DIR / "token").write_text(fa.DEFAULT_TOKEN)
    (SA_DIR / "ca.crt").write_text(bundle.ca.read_text())
    (SA_DIR / "namespace").write_text("kube-system")
    resolv = work / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.53\n")
    sh("mount", "--bind", str(resolv), "/etc/resolv.conf")

    api = fa.FakeAPIServer(ssl_context=bundle.server_context(require_client_cert=False))
    await api.start()
    for ns in ("default", "kube-system"):
        api.create(fa.namespace(ns))
    api.create(fa.service("my-app", "default", cluster_ips=["10.96.0.20"]))
    api.create(fa.service("kube-dns", "kube-system", cluster_ips=["10.96.0.10"]))

    (work / "upstream.yaml").write_text(UPSTREAM_ZONE)
    (work / "Upstream").write_text(UPSTREAM_COREFILE)
    env = {"PYTHONPATH": str(REPO)}
    upstream = kdnsproc.KdnsProcess(["-conf", str(work / "Upstream")], cwd=str(work), env=env)
    env_kdns = dict(env, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.port))
    kdns = kdnsproc.KdnsProcess(
        ["-conf", str(REPO / "Corefile.example")], cwd=str(work), env=env_kdns
    )
    seen: dict[str, object] = {}
    try:
        await asyncio.to_thread(kdnsproc.wait_serving, "127.0.0.53", 53, upstream)
        await asyncio.to_thread(kdnsproc.wait_serving, "127.0.0.1", 53, kdns)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            seen["ready"] = await asyncio.to_thread(http_status, "http://127.0.0.1:8181/ready")
            if seen["ready"] == 200:
                break
            await asyncio.sleep(0.1)
        seen["health"] = await asyncio.to_thread(http_status, "http://127.0.0.1:8080/health")
        seen["metrics"] = await asyncio.to_thread(http_status, "http://127.0.0.1:9153/metrics")

        def probe(name: str, rdtype: str, tcp: bool = False) -> list[object]:
            r = query(name, rdtype, tcp=tcp)
            return [
                dns.rcode.to_text(r.rcode()),
                sorted(rr.to_text() for rrs in r.answer for rr in rrs),
            ]

        for key, name, rdtype in [
            ("cluster", "my-app.default.svc.cluster.local.", "A"),
            ("cluster_tcp", "my-app.default.svc.cluster.local.", "A"),
            ("cluster_nx", "nope.default.svc.cluster.local.", "A"),
            ("pod", "10-1-2-3.default.pod.cluster.local.", "A"),
            ("ptr", "20.0.96.10.in-addr.arpa.", "PTR"),
            ("forwarded", "example.org.", "A"),
            ("forwarded_mx", "example.org.", "MX"),
            ("forwarded_nx", "nothing.example.org.", "A"),
        ]:
            seen[key] = await asyncio.to_thread(probe, name, rdtype, key.endswith("_tcp"))
        seen["loop_fatal"] = "plugin/loop: Loop" in kdns.output
    finally:
        seen["exit"] = await asyncio.to_thread(kdns.stop)
        upstream.stop()
        await api.stop()
        seen["output"] = kdns.output[-4000:]
    return seen


if __name__ == "__main__":
    os.chdir(REPO)
    print("RESULT " + json.dumps(asyncio.run(main())))
    sys.stdout.flush()

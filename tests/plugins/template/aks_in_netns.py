"""Runs inside a fresh network and mount namespace (see test_distribution_corefiles).

Sets the namespace up as an AKS node looks to a DNS pod (in-cluster credentials for the fake API
server, /etc/resolv.conf naming an upstream kdns on 127.0.0.53:53), copies AKS's default Corefile
byte for byte into an empty directory (so its ``import custom/*`` globs match nothing), starts kdns
on it and prints what each probe saw as one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import dns.rcode

from tests import kdnsproc
from tests.fakes import apiserver as fa
from tests.fakes import tls
from tests.integration.kubeadm_in_netns import SA_DIR, http_status, query, sh

REPO = Path(__file__).resolve().parents[3]
AKS = Path(__file__).with_name("corefiles") / "aks.Corefile"
UPSTREAM_COREFILE = """\
internal.cloudapp.net:53 {
    bind 127.0.0.53
    records internal.yaml
}
.:53 {
    bind 127.0.0.53
    chaos upstream
}
"""
UPSTREAM_ZONE = "zone: internal.cloudapp.net\nrecords:\n  vm1: {A: 10.240.0.4}\n"


async def main() -> dict[str, object]:
    sh("ip", "link", "set", "lo", "up")
    work = Path(tempfile.mkdtemp(prefix="kdns-aks-"))
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
    api.create(fa.service("kubernetes", "default", cluster_ips=["10.0.0.1"]))
    api.create(fa.service("kube-dns", "kube-system", cluster_ips=["10.0.0.10"]))

    (work / "internal.yaml").write_text(UPSTREAM_ZONE)
    (work / "Upstream").write_text(UPSTREAM_COREFILE)
    aks_dir = work / "aks"
    aks_dir.mkdir()
    (aks_dir / "Corefile").write_bytes(AKS.read_bytes())
    env = {"PYTHONPATH": str(REPO)}
    upstream = kdnsproc.KdnsProcess(["-conf", str(work / "Upstream")], cwd=str(work), env=env)
    env_kdns = dict(env, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.port))
    kdns = kdnsproc.KdnsProcess(["-conf", str(aks_dir / "Corefile")], cwd=str(work), env=env_kdns)
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

        def probe(name: str, rdtype: str) -> list[object]:
            r = query(name, rdtype)
            return [
                dns.rcode.to_text(r.rcode()),
                sorted(rr.to_text() for rrs in r.answer for rr in rrs),
            ]

        for key, name, rdtype in [
            ("search_junk", "a.b.c.d.internal.cloudapp.net.", "A"),
            ("search_junk_aaaa", "a.b.c.d.e.internal.cloudapp.net.", "AAAA"),
            ("vm", "vm1.internal.cloudapp.net.", "A"),
            ("reddog", "x.reddog.microsoft.com.", "A"),
            ("reddog_apex", "reddog.microsoft.com.", "SOA"),
            ("kubernetes", "kubernetes.default.svc.cluster.local.", "A"),
            ("cluster_nx", "nope.default.svc.cluster.local.", "A"),
        ]:
            seen[key] = await asyncio.to_thread(probe, name, rdtype)
        metrics = await asyncio.to_thread(
            lambda: (
                __import__("urllib.request")
                .request.urlopen("http://127.0.0.1:9153/metrics", timeout=3)
                .read()
                .decode()
            )
        )
        seen["matches"] = [
            line for line in metrics.splitlines() if line.startswith("coredns_template_matches")
        ]
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

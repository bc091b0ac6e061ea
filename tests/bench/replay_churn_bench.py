#!/usr/bin/env python3
"""Replay hit rate of cluster names under EndpointSlice churn. Run on demand:

    python tests/bench/replay_churn_bench.py [--services 1000] [--changes 100] [--duration 10]

The fake API server (``kube_bench.FastAPIServer``, on a thread of this process) holds a
cluster of ``--services`` ClusterIP services over 100 namespaces, one EndpointSlice each. kdns
serves them with kubeadm's current Corefile minus ``forward``/``loop`` (nothing leaves the
machine): ``kubernetes``, ``prometheus``, ``cache 30 { disable success/denial cluster.local }``,
``loadbalance``. A client asks A and AAAA for random services as fast as one socket allows
while another thread changes ``--changes`` EndpointSlices per second (a new endpoint address
each: the kubernetes entries of that service end, nothing else). The hit rate is
``kdns_replayed_replies_total`` over ``coredns_dns_requests_total`` during the run, printed
once without churn and once with it.

Only 127.0.0.1 is used; every load is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import dns.message

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.bench import kube_bench  # noqa: E402
from tests.support import apiserver as fa  # noqa: E402
from tests.support import kdnsproc  # noqa: E402


def scrape(port: int) -> tuple[float, float]:
    """(replayed replies, requests) from kdns's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    replayed = sum(
        float(v) for v in re.findall(r"^kdns_replayed_replies_total\{.*\} (\S+)$", text, re.M)
    )
    asked = sum(
        float(v) for v in re.findall(r"^coredns_dns_requests_total\{.*\} (\S+)$", text, re.M)
    )
    return replayed, asked


def ask_loop(port: int, names: list[bytes], seconds: float, rng: random.Random) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1)
    sent = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            sock.sendto(rng.choice(names), ("127.0.0.1", port))
            sent += 1
            with contextlib.suppress(TimeoutError):
                sock.recv(4096)
    finally:
        sock.close()
    return sent


def churn(
    api: kube_bench.BenchAPI, cluster: kube_bench.Cluster, rate: int, stop: threading.Event
) -> int:
    rng = random.Random(7)
    done = 0
    start = time.monotonic()
    while not stop.is_set():
        i = rng.randrange(cluster.services)
        ns, name = cluster.ns(i), f"svc-{i}"
        key = (ns, f"{name}-abcde")
        current = api.call(lambda key=key: api.api.get("endpointslices", *key))  # type: ignore[misc]
        current["endpoints"] = [
            fa.endpoint(kube_bench.ip("10.192.0.0", done % 60000), pod=f"{name}-x", ns=ns)
        ]
        current["kind"], current["apiVersion"] = "EndpointSlice", "discovery.k8s.io/v1"
        api.call(lambda current=current: api.api.update(current))  # type: ignore[misc]
        done += 1
        delay = start + done / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100, help="EndpointSlice changes per second")
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    cluster = kube_bench.Cluster(args.services, args.services, 0)
    api = kube_bench.BenchAPI()
    api.start()
    api.call(lambda: api.fast.bulk_load(cluster.objects()))
    tmp = Path(tempfile.mkdtemp(prefix="kdns-churn-bench-"))
    kubeconfig = api.call(lambda: api.api.write_kubeconfig(tmp / "kubeconfig.yaml"))
    port, ready_port, metrics_port = (kdnsproc.free_port() for _ in range(3))
    (tmp / "Corefile").write_text(
        f".:{port} {{\n    bind 127.0.0.1\n    errors\n    ready 127.0.0.1:{ready_port}\n"
        f"    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        kubeconfig {kubeconfig}\n"
        "        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n        ttl 30\n    }\n"
        f"    prometheus 127.0.0.1:{metrics_port}\n"
        "    cache 30 {\n        disable success cluster.local\n        disable denial cluster.local\n    }\n"
        "    loadbalance\n}\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    with open(tmp / "kdns.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kdns", "-conf", str(tmp / "Corefile")],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not kube_bench.ready(ready_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"kdns did not become ready; log in {tmp / 'kdns.log'}")
                return 1
            time.sleep(0.05)
        names = [
            dns.message.make_query(f"svc-{i}.{cluster.ns(i)}.svc.cluster.local.", t).to_wire()
            for i in range(args.services)
            for t in ("A", "AAAA")
        ]
        rng = random.Random(1)
        ask_loop(port, names, 2.0, rng)  # warm: every name kept once
        for label, rate in (
            ("no churn", 0),
            (f"{args.changes} EndpointSlice changes/s", args.changes),
        ):
            stop = threading.Event()
            changes = [0]
            worker = None
            if rate:
                worker = threading.Thread(
                    target=lambda rate=rate, stop=stop, changes=changes: changes.__setitem__(
                        0, churn(api, cluster, rate, stop)
                    )
                )
                worker.start()
            before = scrape(metrics_port)
            sent = ask_loop(port, names, args.duration, rng)
            after = scrape(metrics_port)
            stop.set()
            if worker is not None:
                worker.join()
            replayed, asked = after[0] - before[0], after[1] - before[1]
            print(
                f"{label}: {sent} queries in {args.duration:.0f} s, {changes[0]} changes; "
                f"replay hit rate {replayed / max(asked, 1):.1%} ({replayed:.0f} of {asked:.0f})"
            )
        return 0
    finally:
        proc.terminate()
        proc.wait(10)
        api.close()


if __name__ == "__main__":
    sys.exit(main())

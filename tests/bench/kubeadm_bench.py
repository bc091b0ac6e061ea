#!/usr/bin/env python3
"""The ``kubeadm`` mix: kubeadm's Corefile under the queries pods send, kdns against unbound.

    python tests/bench/kubeadm_bench.py [--services 1000] [--external 100] [--duration 10]
                                        [--rate 10000] [--repeat 3] [--rev REV] [--json FILE]

kdns runs kubeadm's current Corefile (``/work/shared/reference/corefiles``: errors, health,
ready, kubernetes, prometheus, forward, ``cache 30 { disable success/denial cluster.local }``,
loop, reload, loadbalance) against the fake API server (``kube_bench.FastAPIServer``, on a
thread of this process) holding ``--services`` ClusterIP services over 10 namespaces, and
forwards to a loopback upstream (``tests/support/upstream.py``) that answers ``--external``
names. unbound holds the same cluster names as a static local zone (AAAA absent, so NODATA as
kdns answers) and forwards the rest to the same upstream with ``cache-max-ttl: 30``
(``local-zone: "test." nodefault``: unbound serves ``test.`` itself by default).

The query file is what pods with ``ndots:5`` ask: each external name costs six search-path
NXDOMAINs (A and AAAA on NAME.default.svc.cluster.local, NAME.svc.cluster.local,
NAME.cluster.local) and then the name itself (a cache hit once warm); each cluster name is
asked A and AAAA. Each server runs alone on CPU 0 (``taskset``), dnsperf and this harness on
CPU 1, in one run. Printed per server: max qps, and at ``--rate``: server CPU per query and
p50/p99 latency (medians of ``--repeat`` fixed-rate runs; each run's p99 is listed too),
with kdns's ratio to unbound against the issue's targets (PASS/MISS, never
enforced). Only 127.0.0.1 is used; every load is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dns.message
import dns.rcode

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.bench import dnsperf_bench as bench  # noqa: E402
from tests.bench import kube_bench  # noqa: E402
from tests.support import apiserver as fa  # noqa: E402
from tests.support import upstream as fake_upstream  # noqa: E402

NAMESPACES = 10
SEARCH = ("default.svc.cluster.local", "svc.cluster.local", "cluster.local")
TARGET_CPU_RATIO = 1.3
TARGET_MAX_QPS = 100_000
TARGET_P99_US = 200.0


def ns(i: int) -> str:
    return "default" if i % NAMESPACES == 0 else f"ns-{i % NAMESPACES}"


def cluster_ip(i: int) -> str:
    return kube_bench.ip("10.96.0.0", 10 + i)


def cluster_objects(services: int) -> list[fa.Obj]:
    out: list[fa.Obj] = [fa.namespace(ns(n)) for n in range(NAMESPACES)]
    http = [{"name": "http", "port": 80, "protocol": "TCP"}]
    for i in range(services):
        out.append(fa.service(f"svc-{i}", ns(i), cluster_ips=[cluster_ip(i)], ports=http))
        endpoint = fa.endpoint(kube_bench.ip("10.128.0.0", i), pod=f"svc-{i}-0", ns=ns(i))
        out.append(
            fa.endpoint_slice(f"svc-{i}-abcde", ns(i), service=f"svc-{i}", endpoints=[endpoint])
        )
    return out


def external(j: int) -> str:
    return f"ext-{j}.example.test"


def query_lines(services: int, externals: int, seed: int = 5) -> list[str]:
    groups: list[list[str]] = []
    for i in range(services):
        name = f"svc-{i}.{ns(i)}.svc.cluster.local"
        groups.append([f"{name} A", f"{name} AAAA"])
    for j in range(externals):
        name = external(j)
        group = [f"{name}.{suffix} {t}" for suffix in SEARCH for t in ("A", "AAAA")]
        groups.append([*group, f"{name} A"])
    random.Random(seed).shuffle(groups)
    return [line for group in groups for line in group]


def kdns_corefile(port: int, kubeconfig: Path, upstream: int) -> str:
    ready, health, metrics = (bench.free_port() for _ in range(3))
    return f""".:{port} {{
    bind 127.0.0.1
    errors
    health 127.0.0.1:{health} {{
       lameduck 5s
    }}
    ready 127.0.0.1:{ready}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
       kubeconfig {kubeconfig}
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus 127.0.0.1:{metrics}
    forward . 127.0.0.1:{upstream} {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success cluster.local
       disable denial cluster.local
    }}
    loop
    reload
    loadbalance
}}
"""


def unbound_conf(workdir: Path, port: int, services: int, upstream: int) -> Path:
    lines = [
        *bench.unbound_server_lines(workdir, port),
        "  do-not-query-localhost: no",
        "  cache-max-ttl: 30",
        '  local-zone: "test." nodefault',
        '  local-zone: "cluster.local." static',
        '  local-data: "cluster.local. 5 IN SOA ns.dns.cluster.local. '
        'hostmaster.cluster.local. 1 7200 1800 86400 5"',
    ]
    for i in range(services):
        lines.append(f'  local-data: "svc-{i}.{ns(i)}.svc.cluster.local. 30 IN A {cluster_ip(i)}"')
    lines += [
        "forward-zone:",
        '  name: "."',
        f"  forward-addr: 127.0.0.1@{upstream}",
        "remote-control:",
        "  control-enable: no",
        "",
    ]
    path = workdir / "unbound.conf"
    path.write_text("\n".join(lines))
    return path


def expected(line: str) -> int:
    name = line.split()[0]
    if name.startswith("ext-") and name.endswith("cluster.local"):
        return dns.rcode.NXDOMAIN
    return dns.rcode.NOERROR


def check(port: int, lines: list[str]) -> list[str]:
    """Ask every distinct query once (this also warms caches); what came back wrong."""
    wrong = []
    for line in dict.fromkeys(lines):
        name, qtype = line.split()
        packet = dns.message.make_query(name, qtype).to_wire()
        raw = bench.query(port, packet)
        if raw is None:
            wrong.append(f"{line}: no reply")
            continue
        reply = dns.message.from_wire(raw)
        if reply.rcode() != expected(line):
            wrong.append(f"{line}: {dns.rcode.to_text(reply.rcode())}")
    return wrong


def run_server(
    server: bench.Server, port: int, datafile: Path, lines: list[str], args: argparse.Namespace
) -> dict[str, float]:
    probe = dns.message.make_query("svc-0.default.svc.cluster.local.", "A").to_wire()
    server.start(port, probe, timeout=60)
    try:
        if server.spec.kind == "kdns":
            time.sleep(3)  # loop's probe lingers 2 s; until it is done nothing replays
        wrong = check(port, lines)
        if wrong:
            raise SystemExit(f"{server.spec.name} answered wrongly: {wrong[:5]}")
        workdir = datafile.parent
        bench.dnsperf(server, port, datafile, workdir, seconds=2)  # warm
        best = None
        for clients, outstanding in ((1, 100), (2, 200), (4, 400)):
            run = bench.dnsperf(
                server,
                port,
                datafile,
                workdir,
                seconds=args.duration,
                clients=clients,
                outstanding=outstanding,
            )
            if run.lost_pct <= 1.0 and (best is None or run.qps > best.qps):
                best = run
        # One fixed-rate run's p99 doubles or halves from run to run on a quiet machine (a few slow
        # scheduling events decide it); the median of several runs is what a target is judged on.
        runs = [
            bench.dnsperf(
                server,
                port,
                datafile,
                workdir,
                seconds=args.duration,
                outstanding=200,
                rate=args.rate,
                verbose=True,
            )
            for _ in range(args.repeat)
        ]
        p99s = sorted(run.percentile(99) for run in runs)
        fixed = sorted(runs, key=lambda run: run.percentile(99))[len(runs) // 2]
        return {
            "max_qps": round(best.qps) if best else 0,
            "capacity_qps_per_cpu": round(best.capacity) if best else 0,
            "fixed_qps": round(fixed.qps),
            "cpu_us_per_query": round(statistics.median(run.us_per_query for run in runs), 2),
            "p50_us": round(statistics.median(run.percentile(50) for run in runs), 1),
            "p99_us": round(statistics.median(p99s), 1),
            "p99_runs_us": [round(p, 1) for p in p99s],
            "lost_pct": round(max(run.lost_pct for run in runs), 3),
            "other_load_cpu0": round(max(run.other_load(bench.SERVER_CPU) for run in runs), 3),
            "nxdomain_pct": round(fixed.rcode_pct("NXDOMAIN"), 1),
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--external", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="fixed-rate runs; their medians are reported"
    )
    parser.add_argument("--rev", help="run the kdns of this commit (git archive) instead")
    parser.add_argument("--no-unbound", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    bench.ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="kdns-kubeadm-bench-"))
    root = REPO
    if args.rev:
        root = workdir / "rev"
        root.mkdir()
        print(f"kdns of {bench.export_rev(args.rev, root)}")
    lines = query_lines(args.services, args.external)
    datafile = workdir / "queries.txt"
    datafile.write_text("\n".join(lines) + "\n")
    api = kube_bench.BenchAPI()
    api.start()
    api.call(lambda: api.fast.bulk_load(cluster_objects(args.services)))
    results: dict[str, dict[str, float]] = {}
    with fake_upstream.FakeUpstream() as upstream:
        upstream.ttl = 300
        kubeconfig = api.call(lambda: api.api.write_kubeconfig(workdir / "kubeconfig.yaml"))
        port = bench.free_port()
        corefile = workdir / "Corefile"
        corefile.write_text(kdns_corefile(port, kubeconfig, upstream.port))
        specs = [
            bench.ServerSpec(
                "kdns",
                "kdns",
                [sys.executable, "-m", "kdns", "-conf", str(corefile), "-quiet"],
                workdir,
                {"PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"},
            )
        ]
        if not args.no_unbound:
            conf = unbound_conf(workdir, port, args.services, upstream.port)
            specs.append(
                bench.ServerSpec("unbound", "unbound", ["unbound", "-d", "-c", str(conf)], workdir)
            )
        for spec in specs:
            results[spec.name] = run_server(
                bench.Server(spec, workdir), port, datafile, lines, args
            )
            print(f"{spec.name}: {json.dumps(results[spec.name])}", flush=True)
    api.close()
    if "unbound" in results:
        k, u = results["kdns"], results["unbound"]
        ratio = k["cpu_us_per_query"] / u["cpu_us_per_query"]
        print(
            f"CPU per query at {args.rate} qps: kdns {k['cpu_us_per_query']} us, unbound "
            f"{u['cpu_us_per_query']} us (x{ratio:.2f}, target <= {TARGET_CPU_RATIO}) "
            f"{'PASS' if ratio <= TARGET_CPU_RATIO else 'MISS'}"
        )
    k = results["kdns"]
    print(
        f"kdns max qps {k['max_qps']} (capacity {k['capacity_qps_per_cpu']}/CPU; target >= "
        f"{TARGET_MAX_QPS}) {'PASS' if k['capacity_qps_per_cpu'] >= TARGET_MAX_QPS else 'MISS'}; "
        f"p99 {k['p99_us']} us (target <= {TARGET_P99_US:.0f}) "
        f"{'PASS' if k['p99_us'] <= TARGET_P99_US else 'MISS'}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

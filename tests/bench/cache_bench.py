#!/usr/bin/env python3
"""kdns's cache plugin against Debian's unbound as a caching forwarder, on loopback.

Run on demand (never part of pytest's default run):

    python tests/bench/cache_bench.py [--duration S] [--rate QPS] [--json FILE] ...

An upstream kdns (records plugin serving ``example.test.yaml``) runs on its own port,
pinned to CPU 1: it only ever sees cache misses. Then, one after the other, on CPU 0:

(a) kdns:    ``example.test:PORT { bind 127.0.0.1; cache 300; forward . 127.0.0.1:UP }``
(b) unbound: a forward-zone for example.test. to 127.0.0.1@UP, ``module-config: "iterator"``
    (no DNSSEC validation), ``domain-insecure``, ``do-not-query-localhost: no`` and
    ``local-zone: "test." nodefault`` (unbound answers test. NXDOMAIN itself by default).

Each is warmed with one pass of ``queries/hits.txt`` (so the measured load is cache hits;
the upstream's CPU time during the measurement is printed as a check), then measured with
dnsperf_bench.py's ``measure``: max qps (short -c/-q sweep, then ``--duration`` s),
p50/p99 at a fixed ``--rate`` (default 10,000 qps) and server CPU µs/query at that rate
(/proc utime+stime over the answered queries); finally the kdns/unbound ratios.

Only 127.0.0.1 is queried; every load is bounded by dnsperf's ``-l`` and a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dnslib

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dnsperf_bench as base

HITS = base.BENCH_DIR / "queries" / "hits.txt"


def upstream_spec(workdir: Path, port: int, records: Path, root: Path) -> base.ServerSpec:
    """kdns serving ``records`` on ``port``; the inner taskset re-pins it to the client CPU
    (Server.start wraps argv in ``taskset -c 0``; both exec, so the pid stays kdns's)."""
    corefile = workdir / "Corefile.upstream"
    corefile.write_text(
        f"example.test:{port} {{\n    bind 127.0.0.1\n    records {records.resolve()}\n}}\n"
    )
    argv = base.pinned(
        base.CLIENT_CPU, [sys.executable, "-m", "kdns", "-conf", str(corefile), "-quiet"]
    )
    return base.ServerSpec("upstream", "kdns", argv, workdir, kdns_env(root))


def kdns_env(root: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}


def kdns_cache_spec(workdir: Path, port: int, up: int, root: Path) -> base.ServerSpec:
    corefile = workdir / "Corefile.cache"
    corefile.write_text(
        f"example.test:{port} {{\n    bind 127.0.0.1\n    cache 300\n"
        f"    forward . 127.0.0.1:{up}\n}}\n"
    )
    argv = [sys.executable, "-m", "kdns", "-conf", str(corefile), "-quiet"]
    return base.ServerSpec("kdns-cache", "kdns", argv, workdir, kdns_env(root))


def unbound_forwarder_spec(workdir: Path, port: int, up: int) -> base.ServerSpec:
    lines = [
        *base.unbound_server_lines(workdir, port),
        "  do-not-query-localhost: no",
        '  domain-insecure: "example.test."',
        # unbound serves test. as a default static (NXDOMAIN) local zone (RFC 6761).
        '  local-zone: "test." nodefault',
        "forward-zone:",
        '  name: "example.test."',
        f"  forward-addr: {base.HOST}@{up}",
        "remote-control:",
        "  control-enable: no",
        "",
    ]
    conf = workdir / "unbound-forward.conf"
    conf.write_text("\n".join(lines))
    argv = [base.which("unbound") or "unbound", "-d", "-c", str(conf)]
    return base.ServerSpec("unbound-cache", "unbound", argv, workdir)


def warm(port: int, path: Path) -> int:
    """One pass of the query file (each line once); how many got an answer."""
    answered = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            packet = dnslib.DNSRecord.question(parts[0], parts[1]).pack()
            answered += base.query(port, packet) is not None
    return answered


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records", type=Path, default=base.BENCH_DIR / "example.test.yaml")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--sweep", type=float, default=2.0)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--rate", type=int, default=10_000)
    p.add_argument("--quiet-wait", type=float, default=10.0)
    p.add_argument("--rev", help="bench the kdns of this commit (git archive) instead of the tree")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.edns = False

    os.sched_setaffinity(0, {base.CLIENT_CPU})
    base.ensure_tools()
    mix = base.Mix(
        "hits",
        "cache hits: example.test answers from the cache (upstream only on a miss)",
        HITS,
        "NOERROR",
        slow=False,
        unbound=True,
    )
    probe = dnslib.DNSRecord.question("web.example.test", "A").pack()
    results: list[base.MixResult] = []
    rss: dict[str, int] = {}
    loops: dict[str, str] = {}
    upstream_cpu: dict[str, float] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="kdns-cache-bench-") as tmp:
        workdir = Path(tmp)
        root, source = base.REPO, base.describe_tree()
        if args.rev:
            root = workdir / "src"
            source = f"git archive {base.export_rev(args.rev, root)}"
        up_port, port = base.free_port(), base.free_port()
        while port == up_port:
            port = base.free_port()
        print(
            f"kdns cache bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; kdns: {source}; "
            f"servers on cpu {base.SERVER_CPU} port {port}, upstream kdns + dnsperf on cpu "
            f"{base.CLIENT_CPU} port {up_port}",
            flush=True,
        )
        upstream = base.Server(upstream_spec(workdir, up_port, args.records, root), workdir)
        upstream.start(up_port, probe)
        try:
            for spec in (
                kdns_cache_spec(workdir, port, up_port, root),
                unbound_forwarder_spec(workdir, port, up_port),
            ):
                server = base.Server(spec, workdir)
                try:
                    server.start(port, probe)
                except RuntimeError as err:
                    print(f"!! {spec.name}: {err}", flush=True)
                    failed = True
                    continue
                try:
                    loops[spec.name] = server.loop_kind()
                    n = warm(port, HITS)
                    problems, _ = base.check_answers(port, mix)
                    if problems:
                        failed = True
                        print(f"!! {spec.name}: wrong answers: {problems}", flush=True)
                        continue
                    print(f".. {spec.name}: warmed ({n} answered), measuring", flush=True)
                    up0 = base.proc_cpu_ticks(upstream.pid)
                    result = base.measure(server, port, mix, workdir, args)
                    upstream_cpu[spec.name] = (
                        base.proc_cpu_ticks(upstream.pid) - up0
                    ) / base.CLK_TCK
                    result.path = (
                        "kdns cache 300 + forward"
                        if spec.kind == "kdns"
                        else "unbound forward-zone, iterator only"
                    )
                    results.append(result)
                    rss[spec.name] = base.proc_status_kb(server.pid, "VmHWM")
                finally:
                    server.stop()
        finally:
            upstream.stop()

    if not results:
        return 1
    base.print_results(results, rss, loops)
    print("\n## upstream CPU during each measurement (should be ~0: all cache hits)")
    for name, secs in upstream_cpu.items():
        print(f"  {name:<14} {1000 * secs:.0f} ms")
    by = {r.server: r for r in results}
    k, u = by.get("kdns-cache"), by.get("unbound-cache")
    print("\n## summary (cache hits)")
    for r in results:
        print(
            f"  {r.server:<14} max {r.max_run.qps:>9,.0f} qps (server {100 * r.max_run.server_util:.0f}%, "
            f"dnsperf {100 * r.max_run.client_util:.0f}%)  @{r.rate:,}: "
            f"p50 {base.fmt(r.fixed.percentile(50))} us p99 {base.fmt(r.fixed.percentile(99))} us "
            f"({r.fixed.qps:,.0f} qps)  cpu {base.fmt(r.fixed.us_per_query, 2)} us/q"
        )
        for prob in r.problems:
            print(f"    PROBLEM: {prob}")
    if k and u:
        print(
            f"  kdns/unbound: max qps x{k.max_run.qps / u.max_run.qps:.2f}, "
            f"p50 x{k.fixed.percentile(50) / u.fixed.percentile(50):.2f}, "
            f"p99 x{k.fixed.percentile(99) / u.fixed.percentile(99):.2f}, "
            f"cpu/q x{k.fixed.us_per_query / u.fixed.us_per_query:.2f}, "
            f"capacity x{k.max_run.capacity / u.max_run.capacity:.2f}"
        )
    if args.json:
        doc = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv,
            "kdns": source,
            "rss_kb": rss,
            "upstream_cpu_s": upstream_cpu,
            "results": [r.summary() for r in results],
        }
        args.json.write_text(json.dumps(doc, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

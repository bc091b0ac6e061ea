#!/usr/bin/env python3
"""What kdns's ``forward`` adds to a query's latency: the same queries asked of a loopback
upstream directly, then through kdns forwarding to it (no cache), at a modest fixed rate.

Run on demand (never part of pytest's default run):

    python tests/bench/forward_bench.py [--rate QPS] [--duration S] [--tcp] [--profile] ...

The upstream is Debian's unbound answering ``example.test.yaml`` from a static local zone
(dnsperf_bench.py's configuration), pinned to CPU 1 with dnsperf; kdns runs alone on CPU 0 as
``example.test:PORT { bind 127.0.0.1; forward . 127.0.0.1:UP }``. For each path dnsperf sends
``queries/hits.txt`` at ``--rate`` qps for ``--duration`` s (``-v``: its own per-query times),
``--repeat`` times, keeping the run least disturbed by other load on CPU 0. Printed: p50, p90,
p99 and p99.9 of each path, kdns's added latency (via minus direct, per percentile), kdns's CPU
µs per query, and how many upstream sockets kdns held at most (/proc/PID/fd, sampled).

``--tcp`` sends the client queries over TCP (dnsperf ``-m tcp``), so forward uses its pooled
connections; ``--profile`` runs py-spy on kdns during one more fixed-rate run and prints its top
frames. Only 127.0.0.1 is queried; every load is bounded by dnsperf's ``-l`` and a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import dnslib

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dnsperf_bench as base

HITS = base.BENCH_DIR / "queries" / "hits.txt"


def upstream_spec(workdir: Path, port: int, records: Path) -> base.ServerSpec:
    """unbound serving ``records``, re-pinned to the client CPU (taskset execs, pid kept)."""
    zone, ttl, rrs = base.load_records(records)
    serial = int(records.stat().st_mtime)
    soa = f"ns.dns.{zone} hostmaster.{zone} {serial} 7200 1800 86400 {ttl}"
    conf = base.unbound_conf(workdir, port, zone, ttl, rrs, soa)
    unbound = base.which("unbound") or "unbound"
    argv = base.pinned(base.CLIENT_CPU, [unbound, "-d", "-c", str(conf)])
    return base.ServerSpec("upstream", "unbound", argv, workdir)


def kdns_spec(workdir: Path, port: int, up: int, root: Path) -> base.ServerSpec:
    corefile = workdir / "Corefile.forward"
    corefile.write_text(
        f"example.test:{port} {{\n    bind 127.0.0.1\n    forward . 127.0.0.1:{up}\n}}\n"
    )
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-m", "kdns", "-conf", str(corefile), "-quiet"]
    return base.ServerSpec("kdns-forward", "kdns", argv, workdir, env)


class FdSampler:
    """The most sockets a process held at once, sampled from /proc/PID/fd every few ms."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = self.sockets()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sockets(self) -> int:
        fd_dir = f"/proc/{self.pid}/fd"
        count = 0
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return 0
        for name in names:
            try:
                count += os.readlink(f"{fd_dir}/{name}").startswith("socket:")
            except OSError:
                continue
        return count

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.sockets())

    def __enter__(self) -> FdSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)


def fixed_runs(
    server: base.Server, port: int, workdir: Path, args: argparse.Namespace
) -> base.PerfRun:
    """``--repeat`` fixed-rate runs; the one with the least other load on CPU 0."""
    best: base.PerfRun | None = None
    for _ in range(args.repeat):
        if args.quiet_wait:
            base.wait_quiet(args.quiet_wait)
        run = base.dnsperf(
            server,
            port,
            HITS,
            workdir,
            seconds=args.duration,
            clients=1,
            outstanding=200,
            rate=args.rate,
            verbose=True,
        )
        if best is None or run.other_load(base.SERVER_CPU) < best.other_load(base.SERVER_CPU):
            best = run
    assert best is not None
    return best


def tcp_dnsperf(enabled: bool) -> None:
    """Make base.dnsperf send over TCP (dnsperf ``-m tcp``) for the rest of the run."""
    if not enabled:
        return
    original = base.subprocess.run

    def run(argv: list[str], **kw: object) -> object:
        if "dnsperf" in argv:
            argv = [*argv, "-m", "tcp"]
        return original(argv, **kw)  # type: ignore[call-overload]

    base.subprocess.run = run  # type: ignore[assignment]


PERCENTILES = (50, 90, 99, 99.9)


def row(name: str, run: base.PerfRun) -> str:
    cells = "  ".join(f"p{p:g} {base.fmt(run.percentile(p)):>7}" for p in PERCENTILES)
    return (
        f"  {name:<14} {run.qps:>8,.0f} qps  lost {run.lost_pct:5.2f}%  {cells}  "
        f"server cpu {base.fmt(run.us_per_query, 1)} us/q  other load cpu0 "
        f"{100 * run.other_load(base.SERVER_CPU):.0f}%"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records", type=Path, default=base.BENCH_DIR / "example.test.yaml")
    p.add_argument("--rate", type=int, default=2_000, help="qps of each fixed-rate run")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of each run")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--quiet-wait", type=float, default=10.0)
    p.add_argument("--tcp", action="store_true", help="clients query over TCP (dnsperf -m tcp)")
    p.add_argument("--profile", action="store_true", help="py-spy kdns during one more run")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--rev", help="bench the kdns of this commit (git archive) instead of the tree")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.edns = False
    args.flamegraph = False
    args.outdir = tempfile.gettempdir()

    os.sched_setaffinity(0, {base.CLIENT_CPU})
    base.ensure_tools()
    tcp_dnsperf(args.tcp)
    probe = dnslib.DNSRecord.question("web.example.test", "A").pack()
    results: dict[str, base.PerfRun] = {}
    sockets: tuple[int, int] = (0, 0)
    profile: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kdns-forward-bench-") as tmp:
        workdir = Path(tmp)
        root, source = base.REPO, base.describe_tree()
        if args.rev:
            root = workdir / "src"
            source = f"git archive {base.export_rev(args.rev, root)}"
        up_port = base.free_port()
        port = base.free_port()
        while port == up_port:
            port = base.free_port()
        print(
            f"kdns forward bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; kdns: {source}; "
            f"{'TCP' if args.tcp else 'UDP'} clients at {args.rate:,} qps for "
            f"{args.duration:g} s x{args.repeat}; kdns on cpu {base.SERVER_CPU}, unbound "
            f"upstream + dnsperf on cpu {base.CLIENT_CPU}",
            flush=True,
        )
        upstream = base.Server(upstream_spec(workdir, up_port, args.records), workdir)
        upstream.start(up_port, probe)
        try:
            results["direct"] = fixed_runs(upstream, up_port, workdir, args)
            kdns = base.Server(kdns_spec(workdir, port, up_port, root), workdir)
            kdns.start(port, probe)
            try:
                base.dnsperf(kdns, port, HITS, workdir, seconds=1, rate=args.rate)
                with FdSampler(kdns.pid) as sampler:
                    results["via kdns"] = fixed_runs(kdns, port, workdir, args)
                sockets = (sampler.baseline, sampler.peak)
                if args.profile:
                    profile = base.profile(
                        kdns,
                        port,
                        base.Mix("forward", "forward", HITS, "NOERROR", slow=False, unbound=False),
                        workdir,
                        argparse.Namespace(**{**vars(args), "profile_top": args.profile_top}),
                    )
            finally:
                kdns.stop()
        finally:
            upstream.stop()

    direct, via = results["direct"], results["via kdns"]
    print("\n## latency (us, dnsperf's own send-to-receive times)")
    for name, run in results.items():
        print(row(name, run))
    added = {p: via.percentile(p) - direct.percentile(p) for p in PERCENTILES}
    print(
        "  added by kdns  "
        + "  ".join(f"p{p:g} {base.fmt(value):>7}" for p, value in added.items())
    )
    print(f"  kdns sockets: {sockets[0]} at rest, at most {sockets[1]} during the run")
    for name, run in results.items():
        if run.rcode_pct("NOERROR") < 99.9 or run.lost_pct > 0.1:
            print(f"  PROBLEM: {name}: rcodes {run.rcodes}, lost {run.lost_pct:.2f}%")
    if profile:
        print("\n## py-spy of kdns")
        print("\n".join(profile))
    if args.json:
        doc = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv,
            "kdns": source,
            "tcp": args.tcp,
            "rate": args.rate,
            "percentiles_us": {
                name: {f"p{p:g}": round(run.percentile(p), 1) for p in PERCENTILES}
                for name, run in results.items()
            },
            "added_us": {f"p{p:g}": round(v, 1) for p, v in added.items()},
            "kdns_cpu_us_per_query": round(via.us_per_query, 2),
            "kdns_sockets": {"rest": sockets[0], "peak": sockets[1]},
        }
        args.json.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

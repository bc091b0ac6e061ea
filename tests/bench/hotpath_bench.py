#!/usr/bin/env python3
"""kdns's per-query Python cost, in process, without sockets or an event loop.

    python tests/bench/hotpath_bench.py [--corefile FILE] [--rev REV] [--number N]

Loads the bench Corefile exactly as ``kdns -conf`` does, builds the listener's zone table,
and times ``dispatch.handle`` (datagram bytes in, reply bytes out: the whole work of a UDP
query short of recvfrom/sendto and the loop's wake-up) for the queries of each mix, then
the stages of the hit path one by one. The figure is the best of several repeats of N
calls (``timeit`` on thread CPU time), so other load on the machine inflates it little; set against the
server CPU us/query of dnsperf_bench.py it splits kdns's cost into Python work and the
socket/loop overhead around it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent.parent
REMOTE = ("127.0.0.1", 40000)


def export_rev(rev: str, dest: Path) -> str:
    git = ["git", "-C", str(REPO)]
    sha = subprocess.run(
        [*git, "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run([*git, "archive", sha, "kdns"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return sha


def best_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """CPU microseconds per call (thread CPU time: preemption by other load is not counted)."""
    times = timeit.repeat(fn, number=number, repeat=repeat, timer=time.thread_time)
    return min(times) / number * 1e6


def packets(lines: list[str], *, edns: bool) -> list[bytes]:
    import dnslib

    out = []
    for line in lines:
        name, qtype = line.split()
        q = dnslib.DNSRecord.question(name, qtype)
        if edns:
            q.add_ar(dnslib.EDNS0(udp_len=1232))
        out.append(bytes(q.pack()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corefile", type=Path, default=BENCH_DIR / "Corefile")
    p.add_argument("--rev", help="time the kdns of this commit (git archive) instead")
    p.add_argument("--number", type=int, default=20_000, help="calls per repeat")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--edns", action="store_true", help="queries carry an OPT record")
    p.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: no pinning)")
    args = p.parse_args(argv)
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})

    tmp = tempfile.TemporaryDirectory(prefix="kdns-hotpath-")
    source = "work tree"
    if args.rev:
        source = f"git archive {export_rev(args.rev, Path(tmp.name))}"
        sys.path.insert(0, tmp.name)
    else:
        sys.path.insert(0, str(REPO))

    from kdns import cli, wire
    from kdns.request import UDP, Request
    from kdns.server import dispatch
    from kdns.server.instance import Instance
    from kdns.server.zones import ZoneTable

    loaded = cli.load(args.corefile.resolve(), 53)
    routes = Instance(loaded).routes(loaded)
    table = ZoneTable(next(iter(routes.values())))
    print(f"kdns: {source}; {args.corefile}; python {sys.version.split()[0]}")
    print(f"best of {args.repeat} x {args.number:,} calls, us per call\n")

    mixes = {
        "hits": (BENCH_DIR / "queries" / "hits.txt").read_text().split("\n"),
        "nxmemo": [f"m{i:03d}.example.test A" for i in range(1000)],
        "whoami": (BENCH_DIR / "queries" / "whoami.txt").read_text().split("\n"),
    }
    for name, lines in mixes.items():
        pkts = packets([x for x in lines if x.strip()], edns=args.edns)
        n = len(pkts)
        for data in pkts:
            reply = dispatch.handle(table, data, UDP, REMOTE)
            assert type(reply) is bytes, (name, reply)
        i = iter(range(1 << 62))

        def one(pkts: list[bytes] = pkts, n: int = n, i: object = i) -> object:
            return dispatch.handle(table, pkts[next(i) % n], UDP, REMOTE)  # type: ignore[call-overload]

        print(f"  {name:<9} dispatch.handle       {best_us(one, args.number, args.repeat):7.2f}")

    # NXDOMAIN on a name never seen: every call a fresh name, so the memo never helps.
    count = max(1000, args.number // 10)
    fresh = packets(
        [f"q{i:07d}x.example.test A" for i in range(count * (args.repeat + 1))], edns=args.edns
    )
    it = iter(fresh)
    us = best_us(lambda: dispatch.handle(table, next(it), UDP, REMOTE), count, args.repeat)
    print(f"  {'nxdomain':<9} dispatch.handle       {us:7.2f}  (fresh names: resolve + render)")

    print("\n  hit path stages (web.example.test A):")
    data = packets(["web.example.test A"], edns=args.edns)[0]
    req = Request(data, UDP, REMOTE)
    route = table.match(req.key)
    assert route is not None
    answer = route.handler.serve(req)
    assert type(answer) is wire.Answer
    stages: list[tuple[str, Callable[[], object]]] = [
        ("bytes(memoryview[:n])", lambda: bytes(memoryview(data)[: len(data)])),
        ("Request(data)", lambda: Request(data, UDP, REMOTE)),
        ("ZoneTable.match", lambda: table.match(req.key)),
        ("chain serve", lambda: route.handler.serve(req)),
        ("wire.finalize", lambda: wire.finalize(req, answer, req.size)),
        ("dispatch.handle", lambda: dispatch.handle(table, data, UDP, REMOTE)),
    ]
    for label, fn in stages:
        print(f"    {label:<24} {best_us(fn, args.number * 5, args.repeat):7.2f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""kdns against Debian's unbound under dnsperf, on loopback, with pinned CPUs.

Run on demand (never part of pytest's default run):

    python tests/bench/dnsperf_bench.py [--corefile FILE] [--duration S] [--rate QPS] ...

Every server under test runs pinned to CPU 0 (``taskset -c 0``); dnsperf, py-spy and
this harness itself run on CPU 1. For every server and query mix it prints

1. max qps: dnsperf with several outstanding queries for ``--duration`` seconds (the
   best of a short sweep of ``-c``/``-q`` settings), with the loss and the CPU share
   of server and client, so a client-bound figure is visible as such;
2. latency at a fixed rate (``dnsperf -Q``): p50/p99/p99.9 from dnsperf's per-query
   ``-v`` lines (dnsperf measures each query from send to receive, in microseconds);
3. server CPU microseconds per query at that fixed rate: utime+stime from
   ``/proc/PID/stat`` before and after, over the queries answered;
4. peak RSS of the server (VmHWM) once all mixes ran.

unbound gets the same records (local-zone/local-data generated from the YAML the
kdns Corefile serves) and the script prints kdns/unbound ratios and PASS/MISS
against the targets. It never fails on a MISS; it exits non-zero only when the
bench itself cannot run (a server does not start, answers are wrong).

Only 127.0.0.1 is ever queried, and every load is bounded by ``-l`` (time) and
a subprocess timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dnslib
import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent.parent
SERVER_CPU = 0
CLIENT_CPU = 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"

#: Targets (reported as PASS/MISS, never enforced).
TARGET_HIT_CPU_RATIO = 1.3
TARGET_HIT_MAX_QPS = 80_000
TARGET_SLOW_CPU_US = 100.0

#: Runs python with uvloop made unimportable, so kdns.cli.run falls back to
#: asyncio.run (kdns has no switch for it; this touches nothing in kdns).
NO_UVLOOP = "import sys; sys.modules['uvloop'] = None; from kdns.cli import main; sys.exit(main())"

#: dnsperf (-c clients, -q outstanding) settings tried for the max-qps figure.
SWEEP: tuple[tuple[int, int], ...] = ((1, 50), (1, 100), (1, 200), (2, 400))


# --------------------------------------------------------------------------- tools


def ensure_tools() -> None:
    """Install dnsperf and unbound with apt-get when missing (CI machines start fresh)."""
    missing = [
        pkg for pkg, exe in (("dnsperf", "dnsperf"), ("unbound", "unbound")) if not which(exe)
    ]
    if not which("taskset"):
        missing.append("util-linux")
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0 and which("sudo"):
        cmd = ["sudo", "-E", *cmd]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        update = ["apt-get", "update"] if cmd[0] != "sudo" else ["sudo", "apt-get", "update"]
        subprocess.run(update, env=env, check=True)
        subprocess.run(cmd, env=env, check=True)
    still = [exe for exe in ("dnsperf", "unbound", "taskset") if not which(exe)]
    if still:
        sys.exit(f"still missing after apt-get: {', '.join(still)}")
    # Debian's postinst may start unbound as a service on port 53; it is not ours and
    # does not interfere (the bench uses its own ports), so it is left alone.


def which(exe: str) -> str | None:
    return shutil.which(exe) or next(
        (p for d in ("/usr/sbin", "/sbin") if os.access(p := f"{d}/{exe}", os.X_OK)), None
    )


def ensure_py_spy() -> str:
    exe = shutil.which("py-spy")
    if exe:
        return exe
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.access(exe, os.X_OK):
        sys.exit("py-spy installed but not found on PATH")
    return exe


def pinned(cpu: int, argv: list[str]) -> list[str]:
    """``argv`` pinned to ``cpu``; taskset execs it, so the pid is argv's own."""
    return ["taskset", "-c", str(cpu), *argv]


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (kdns listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


# --------------------------------------------------------------------------- /proc


def proc_cpu_ticks(pid: int) -> int:
    """utime+stime of a process (all its threads, dead ones included), in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def proc_sched_ns(pid: int) -> int:
    """On-CPU nanoseconds of the live threads of a process (/proc/PID/task/*/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_busy_ticks() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy ticks, steal ticks) from /proc/stat."""
    out: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        m = re.match(r"cpu(\d+) (.*)", line)
        if not m:
            continue
        v = [int(x) for x in m.group(2).split()]
        user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
        out[int(m.group(1))] = (user + nice + system + irq + softirq, steal)
    return out


def ksoftirqd_pids() -> dict[int, int]:
    """CPU -> pid of its ksoftirqd thread (where the kernel defers packet delivery under load)."""
    out: dict[int, int] = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            m = re.fullmatch(r"ksoftirqd/(\d+)", comm.read_text().strip())
            if m:
                out[int(m.group(1))] = int(comm.parent.name)
    return out


def ticks_of(pids: dict[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for cpu, pid in pids.items():
        with contextlib.suppress(OSError):
            out[cpu] = proc_cpu_ticks(pid)
    return out


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wait_quiet(max_wait: float, threshold: float = 0.10) -> float:
    """Wait (up to ``max_wait`` s) until both CPUs are below ``threshold`` busy; the share seen."""
    deadline = time.monotonic() + max_wait
    while True:
        a = cpu_busy_ticks()
        time.sleep(1.0)
        b = cpu_busy_ticks()
        busy = max((b[c][0] - a[c][0]) / CLK_TCK for c in (SERVER_CPU, CLIENT_CPU))
        if busy < threshold or time.monotonic() >= deadline:
            return busy


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RR:
    name: str  # absolute, lower case, trailing dot
    rtype: str
    ttl: int
    rdata: str


def load_records(path: Path) -> tuple[str, int, list[RR]]:
    """The zone, default TTL and records of a records-plugin YAML file."""
    doc = yaml.safe_load(path.read_text())
    zone = str(doc["zone"]).rstrip(".").lower() + "."
    ttl = int(doc.get("ttl", 300))
    rrs: list[RR] = []
    for label, types in (doc.get("records") or {}).items():
        label = str(label)
        name = zone if label in ("@", "") else f"{label.rstrip('.').lower()}.{zone}"
        for rtype, values in types.items():
            if not isinstance(values, list):
                values = [values]
            for value in values:
                rr_ttl = ttl
                if isinstance(value, dict):
                    rr_ttl = int(value.get("ttl", ttl))
                    value = value.get("value", value.get("rdata", ""))
                rrs.append(RR(name, str(rtype).upper(), rr_ttl, str(value)))
    return zone, ttl, rrs


def unbound_server_lines(workdir: Path, port: int) -> list[str]:
    """The ``server:`` settings every unbound of the benches shares (one thread, no daemon,
    no chroot, quiet, iterator only, loopback only)."""
    return [
        "server:",
        f"  interface: {HOST}@{port}",
        f"  port: {port}",
        "  do-daemonize: no",
        "  num-threads: 1",
        '  chroot: ""',
        '  username: ""',
        f'  directory: "{workdir}"',
        '  pidfile: ""',
        "  so-reuseport: no",
        "  so-rcvbuf: 4m",  # kdns asks for 4 MiB too (udp.py); rmem_max allows it here
        "  use-syslog: no",
        '  logfile: ""',
        "  verbosity: 0",
        "  log-queries: no",
        "  do-ip6: no",
        "  do-tcp: yes",
        '  module-config: "iterator"',
        "  access-control: 127.0.0.0/8 allow",
    ]


def unbound_conf(workdir: Path, port: int, zone: str, ttl: int, rrs: list[RR], soa: str) -> Path:
    """An unbound.conf answering ``rrs`` from a static local zone on 127.0.0.1@port."""
    lines = [
        *unbound_server_lines(workdir, port),
        f'  local-zone: "{zone}" static',
        f'  local-data: "{zone} {ttl} IN SOA {soa}"',
    ]
    lines += [f'  local-data: "{rr.name} {rr.ttl} IN {rr.rtype} {rr.rdata}"' for rr in rrs]
    lines += ["remote-control:", "  control-enable: no", ""]
    path = workdir / "unbound.conf"
    path.write_text("\n".join(lines))
    return path


# --------------------------------------------------------------------------- servers


@dataclass
class ServerSpec:
    name: str
    kind: str  # "kdns" or "unbound"
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


class Server:
    def __init__(self, spec: ServerSpec, logdir: Path) -> None:
        self.spec = spec
        self.log_path = logdir / f"{spec.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, port: int, probe: bytes, timeout: float = 20.0) -> None:
        env = dict(os.environ, **self.spec.env)
        argv = pinned(SERVER_CPU, self.spec.argv)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=self.spec.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited: {self.log_path.read_text()[-2000:]}")
            if query(port, probe, timeout=0.2) is not None:
                return
        self.stop()
        raise RuntimeError(f"{self.spec.name} did not answer within {timeout}s")

    def loop_kind(self) -> str:
        """Which event loop the kdns process really runs (uvloop's extension is mapped)."""
        if self.spec.kind != "kdns":
            return "-"
        maps = Path(f"/proc/{self.pid}/maps").read_text()
        return "uvloop" if "uvloop" in maps else "asyncio"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def query(port: int, packet: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, (HOST, port))
            while True:
                data, _ = sock.recvfrom(65535)
                if data[:2] == packet[:2]:
                    return data
        except OSError:
            return None


# --------------------------------------------------------------------------- mixes


@dataclass
class Mix:
    name: str
    path: str  # which code path of kdns it exercises
    file: Path
    rcode: str  # the rcode every answer must carry
    slow: bool  # held to the slow-path target
    unbound: bool  # run against unbound too


def random_names(path: Path, zone: str, count: int, seed: int) -> Path:
    """``count`` distinct random names under ``zone`` (A or AAAA), one dnsperf line each."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    seen: set[str] = set()
    with path.open("w") as f:
        while len(seen) < count:
            label = "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 14)))
            if label in seen:
                continue
            seen.add(label)
            f.write(f"{label}.{zone} {rng.choice(('A', 'AAAA'))}\n")
    return path


def mixes(workdir: Path, zone: str, nx_count: int) -> dict[str, Mix]:
    return {
        "hits": Mix(
            "hits",
            "pre-rendered: records 'hits' dict -> Answer bytes spliced after the question",
            BENCH_DIR / "queries" / "hits.txt",
            "NOERROR",
            slow=False,
            unbound=True,
        ),
        "nxdomain": Mix(
            "nxdomain",
            f"slow: {nx_count:,} random names (> records memo of 10,000), "
            "NXDOMAIN resolved + rendered with dnslib per query",
            random_names(workdir / "nxdomain.txt", zone, nx_count, seed=1053),
            "NXDOMAIN",
            slow=True,
            unbound=True,
        ),
        "nxmemo": Mix(
            "nxmemo",
            "memo: 1,000 random names, NXDOMAIN from the records LRU memo (OrderedDict)",
            random_names(workdir / "nxmemo.txt", zone, 1000, seed=53),
            "NXDOMAIN",
            slow=True,
            unbound=True,
        ),
        "rewrite": Mix(
            "rewrite",
            "rewrite name suffix in front of the records: the rewritten reply, replayed",
            BENCH_DIR / "queries" / "rewrite.txt",
            "NOERROR",
            slow=False,
            unbound=False,
        ),
        "template": Mix(
            "template",
            "template IN A with a regex and named groups: the rendered reply, replayed",
            BENCH_DIR / "queries" / "template.txt",
            "NOERROR",
            slow=False,
            unbound=False,
        ),
        "whoami": Mix(
            "whoami",
            "slow: whoami builds dnslib RRs and renders them per query",
            BENCH_DIR / "queries" / "whoami.txt",
            "NOERROR",
            slow=True,
            unbound=False,
        ),
    }


def mix_queries(mix: Mix, limit: int = 16) -> list[tuple[str, str]]:
    out = []
    for line in mix.file.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0], parts[1]))
        if len(out) >= limit:
            break
    return out


def fingerprint(reply: dnslib.DNSRecord) -> tuple[Any, ...]:
    """What must match between kdns and unbound: rcode and the records, case-folded."""

    def rrs(section: list[dnslib.RR]) -> tuple[tuple[str, int, int, str], ...]:
        return tuple(
            sorted(
                (str(r.rname).lower(), r.rtype, r.ttl, str(r.rdata).lower())
                for r in section
                if r.rtype != dnslib.QTYPE.OPT
            )
        )

    return (reply.header.rcode, rrs(reply.rr), rrs(reply.auth))


def check_answers(port: int, mix: Mix) -> tuple[list[str], dict[tuple[str, str], tuple[Any, ...]]]:
    """Ask each distinct query once; problems found, and fingerprints to compare servers."""
    problems: list[str] = []
    prints: dict[tuple[str, str], tuple[Any, ...]] = {}
    for name, qtype in mix_queries(mix):
        q = dnslib.DNSRecord.question(name, qtype)
        packet = q.pack()
        data = query(port, packet)
        if data is None:
            problems.append(f"{name} {qtype}: no answer")
            continue
        reply = dnslib.DNSRecord.parse(data)
        rcode = dnslib.RCODE.get(reply.header.rcode)
        qlen = len(packet) - 12
        if data[12 : 12 + qlen] != packet[12:]:
            problems.append(f"{name} {qtype}: question not echoed as sent (case)")
        if rcode != mix.rcode:
            problems.append(f"{name} {qtype}: {rcode}, expected {mix.rcode}")
        elif mix.rcode == "NOERROR" and mix.name == "hits":
            want = dnslib.QTYPE.reverse[qtype.upper()]
            if not any(r.rtype == want for r in reply.rr):
                problems.append(f"{name} {qtype}: no {qtype} in the answer section")
        elif mix.rcode == "NXDOMAIN" and not any(r.rtype == dnslib.QTYPE.SOA for r in reply.auth):
            problems.append(f"{name} {qtype}: NXDOMAIN without SOA in authority")
        elif mix.name == "whoami" and not any(str(r.rdata) == HOST for r in reply.ar):
            problems.append(f"{name} {qtype}: whoami did not name {HOST}")
        prints[(name.lower(), qtype.upper())] = fingerprint(reply)
    return problems, prints


# --------------------------------------------------------------------------- dnsperf


@dataclass
class PerfRun:
    argv: list[str]
    seconds: float = 0.0
    sent: int = 0
    completed: int = 0
    lost: int = 0
    qps: float = 0.0
    rcodes: dict[str, int] = field(default_factory=dict)
    avg_latency_us: float = 0.0
    latencies_us: list[float] = field(default_factory=list, repr=False)
    client_cpu_s: float = 0.0
    server_ticks: int = 0
    server_sched_ns: int = 0
    cpu_busy: dict[int, int] = field(default_factory=dict)
    softirqd: dict[int, int] = field(default_factory=dict)
    harness_cpu_s: float = 0.0
    cpu_steal: dict[int, int] = field(default_factory=dict)

    @property
    def lost_pct(self) -> float:
        return 100.0 * self.lost / self.sent if self.sent else 0.0

    def rcode_pct(self, rcode: str) -> float:
        total = sum(self.rcodes.values())
        return 100.0 * self.rcodes.get(rcode, 0) / total if total else 0.0

    @property
    def server_cpu_s(self) -> float:
        return self.server_ticks / CLK_TCK

    @property
    def server_util(self) -> float:
        return self.server_cpu_s / self.seconds if self.seconds else 0.0

    @property
    def client_util(self) -> float:
        return self.client_cpu_s / self.seconds if self.seconds else 0.0

    @property
    def us_per_query(self) -> float:
        return 1e6 * self.server_cpu_s / self.completed if self.completed else float("nan")

    @property
    def capacity(self) -> float:
        """Queries one whole CPU would answer per second at this run's server cost: max qps
        with the noise of a shared machine (and any client limit) taken out."""
        us = self.us_per_query
        return 1e6 / us if us and not math.isnan(us) else float("nan")

    @property
    def us_per_query_sched(self) -> float:
        return self.server_sched_ns / 1e3 / self.completed if self.completed else float("nan")

    @property
    def cpu0_util(self) -> float:
        """Server plus CPU 0's ksoftirqd (packet delivery deferred there under load)."""
        ticks = self.server_ticks + self.softirqd.get(SERVER_CPU, 0)
        return ticks / CLK_TCK / self.seconds if self.seconds else 0.0

    def other_load(self, cpu: int) -> float:
        """Share of ``cpu`` busy with work that is not the bench's (approximate)."""
        if not self.seconds:
            return 0.0
        ours = self.softirqd.get(cpu, 0) / CLK_TCK
        ours += self.server_cpu_s if cpu == SERVER_CPU else self.client_cpu_s + self.harness_cpu_s
        return max(0.0, self.cpu_busy.get(cpu, 0) / CLK_TCK - ours) / self.seconds

    def percentile(self, p: float) -> float:
        lat = self.latencies_us
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]


_STAT = {
    "sent": re.compile(r"Queries sent:\s+(\d+)"),
    "completed": re.compile(r"Queries completed:\s+(\d+)"),
    "lost": re.compile(r"Queries lost:\s+(\d+)"),
    "seconds": re.compile(r"Run time \(s\):\s+([\d.]+)"),
    "qps": re.compile(r"Queries per second:\s+([\d.]+)"),
    "avg": re.compile(r"Average Latency \(s\):\s+([\d.]+)"),
}


def dnsperf(
    server: Server,
    port: int,
    datafile: Path,
    workdir: Path,
    *,
    seconds: float,
    clients: int = 1,
    outstanding: int = 100,
    rate: int | None = None,
    verbose: bool = False,
    edns: bool = False,
) -> PerfRun:
    argv = [
        "dnsperf",
        "-s",
        HOST,
        "-p",
        str(port),
        "-d",
        str(datafile),
        "-l",
        f"{seconds:g}",
        "-c",
        str(clients),
        "-q",
        str(outstanding),
        "-T",
        "1",
        "-t",
        "2",
    ]
    if rate:
        argv += ["-Q", str(rate)]
    if verbose:
        argv.append("-v")
    if edns:
        argv.append("-e")
    run = PerfRun(argv=argv)
    out_path = workdir / "dnsperf.out"
    cpu0 = children_cpu_s()
    busy0 = cpu_busy_ticks()
    softirq_pids = ksoftirqd_pids()
    soft0 = ticks_of(softirq_pids)
    self0 = self_cpu_s()
    ticks0 = proc_cpu_ticks(server.pid)
    sched0 = proc_sched_ns(server.pid)
    with out_path.open("wb") as out:
        subprocess.run(
            pinned(CLIENT_CPU, argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=seconds + 60,
            check=True,
        )
    run.server_ticks = proc_cpu_ticks(server.pid) - ticks0
    run.server_sched_ns = proc_sched_ns(server.pid) - sched0
    busy1 = cpu_busy_ticks()
    soft1 = ticks_of(softirq_pids)
    run.softirqd = {c: soft1[c] - soft0.get(c, soft1[c]) for c in soft1}
    run.harness_cpu_s = self_cpu_s() - self0
    run.client_cpu_s = children_cpu_s() - cpu0
    run.cpu_busy = {c: busy1[c][0] - busy0[c][0] for c in busy1}
    run.cpu_steal = {c: busy1[c][1] - busy0[c][1] for c in busy1}
    parse_dnsperf(out_path, run, verbose=verbose)
    return run


def parse_dnsperf(path: Path, run: PerfRun, *, verbose: bool) -> None:
    latencies: list[float] = []
    stats: list[str] = []
    with path.open("r", errors="replace") as f:
        for line in f:
            if verbose and line.startswith("> "):
                parts = line.split()
                if len(parts) == 5 and parts[1] != "T":
                    latencies.append(float(parts[4]) * 1e6)
                continue
            stats.append(line)
    text = "".join(stats)
    for key, pattern in _STAT.items():
        m = pattern.search(text)
        if not m:
            raise RuntimeError(f"dnsperf output lacks {key!r}:\n{text[-3000:]}")
        value = float(m.group(1))
        if key in ("sent", "completed", "lost"):
            setattr(run, key, int(value))
        elif key == "avg":
            run.avg_latency_us = value * 1e6
        else:
            setattr(run, key, value)
    m = re.search(r"Response codes:\s*(.*)", text)
    if m:
        for code, count in re.findall(r"([A-Z]+) (\d+)", m.group(1)):
            run.rcodes[code] = int(count)
    latencies.sort()
    run.latencies_us = latencies


# --------------------------------------------------------------------------- measuring


@dataclass
class MixResult:
    server: str
    mix: str
    path: str
    max_run: PerfRun
    max_setting: tuple[int, int]
    sweep: list[tuple[int, int, float, float]]
    fixed: PerfRun
    rate: int
    problems: list[str]

    def summary(self) -> dict[str, Any]:
        f, m = self.fixed, self.max_run
        return {
            "server": self.server,
            "mix": self.mix,
            "path": self.path,
            "max_qps": round(m.qps),
            "max_lost_pct": round(m.lost_pct, 3),
            "max_clients_outstanding": list(self.max_setting),
            "max_server_cpu_util": round(m.server_util, 3),
            "max_client_cpu_util": round(m.client_util, 3),
            "max_us_per_query": round(m.us_per_query, 2),
            "capacity_qps_per_cpu": round(m.capacity),
            "max_cpu0_util_with_softirq": round(m.cpu0_util, 3),
            "max_other_load_cpu0": round(m.other_load(SERVER_CPU), 3),
            "max_other_load_cpu1": round(m.other_load(CLIENT_CPU), 3),
            "sweep": [list(s) for s in self.sweep],
            "rate": self.rate,
            "fixed_qps": round(f.qps),
            "fixed_lost_pct": round(f.lost_pct, 3),
            "fixed_rcodes": f.rcodes,
            "p50_us": round(f.percentile(50), 1),
            "p90_us": round(f.percentile(90), 1),
            "p99_us": round(f.percentile(99), 1),
            "p999_us": round(f.percentile(99.9), 1),
            "max_latency_us": round(f.latencies_us[-1], 1) if f.latencies_us else None,
            "avg_latency_us": round(f.avg_latency_us, 1),
            "cpu_us_per_query": round(f.us_per_query, 2),
            "cpu_us_per_query_schedstat": round(f.us_per_query_sched, 2),
            "fixed_server_cpu_util": round(f.server_util, 3),
            "fixed_other_load_cpu0": round(f.other_load(SERVER_CPU), 3),
            "problems": self.problems,
        }


def measure(
    server: Server, port: int, mix: Mix, workdir: Path, args: argparse.Namespace
) -> MixResult:
    problems: list[str] = []
    run = lambda **kw: dnsperf(server, port, mix.file, workdir, edns=args.edns, **kw)  # noqa: E731
    if args.quiet_wait:
        wait_quiet(args.quiet_wait)
    run(seconds=args.warmup, clients=1, outstanding=100)
    sweep: list[tuple[int, int, float, float]] = []
    best: tuple[int, int] = SWEEP[1]
    if args.sweep > 0:
        best_qps = -1.0
        for clients, outstanding in SWEEP:
            r = run(seconds=args.sweep, clients=clients, outstanding=outstanding)
            sweep.append((clients, outstanding, round(r.qps), round(r.lost_pct, 2)))
            if r.lost_pct <= 1.0 and r.qps > best_qps:
                best_qps, best = r.qps, (clients, outstanding)
    max_run: PerfRun | None = None
    for _ in range(args.repeat):
        if args.quiet_wait:
            wait_quiet(args.quiet_wait)
        r = run(seconds=args.duration, clients=best[0], outstanding=best[1])
        if max_run is None or r.qps > max_run.qps:
            max_run = r
    assert max_run is not None
    # Of repeated fixed-rate runs, keep the one least disturbed by other work on CPU 0.
    fixed: PerfRun | None = None
    for _ in range(args.repeat):
        if args.quiet_wait:
            wait_quiet(args.quiet_wait)
        r = run(seconds=args.duration, clients=1, outstanding=200, rate=args.rate, verbose=True)
        if fixed is None or r.other_load(SERVER_CPU) < fixed.other_load(SERVER_CPU):
            fixed = r
    assert fixed is not None
    for label, r in (("max", max_run), ("fixed", fixed)):
        pct = r.rcode_pct(mix.rcode)
        if pct < 99.9:
            problems.append(f"{label}-qps run: {mix.rcode} only {pct:.2f}% ({r.rcodes})")
    if fixed.qps < 0.97 * args.rate:
        problems.append(
            f"fixed-rate run reached {fixed.qps:.0f} qps, not {args.rate}: "
            "the server (or client) cannot keep up, latencies are queueing delay"
        )
    path = mix.path if server.spec.kind == "kdns" else "unbound: static local-zone data"
    return MixResult(
        server.spec.name, mix.name, path, max_run, best, sweep, fixed, args.rate, problems
    )


# --------------------------------------------------------------------------- profiling


def profile(
    server: Server, port: int, mix: Mix, workdir: Path, args: argparse.Namespace
) -> list[str]:
    """py-spy record --native during a fixed-rate run; the top functions by own and total time."""
    spy = ensure_py_spy()
    raw = workdir / f"pyspy-{server.spec.name}-{mix.name}.txt"
    svg = Path(args.outdir) / f"pyspy-{server.spec.name}-{mix.name}.svg"
    secs = max(5, int(args.duration))
    argv = pinned(CLIENT_CPU, [spy, "record", "--native", "-r", "400"])
    common = ["-d", str(secs), "-p", str(server.pid)]
    spy_raw = subprocess.Popen(
        [*argv, "-f", "raw", "-o", str(raw), *common],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    dnsperf(server, port, mix.file, workdir, seconds=secs, rate=args.rate, edns=args.edns)
    spy_raw.wait(timeout=60)
    if args.flamegraph:
        spy_svg = subprocess.Popen(
            [*argv, "-f", "flamegraph", "-o", str(svg), *common],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        dnsperf(server, port, mix.file, workdir, seconds=secs, rate=args.rate, edns=args.edns)
        spy_svg.wait(timeout=60)
    return summarize_profile(raw, top=args.profile_top)


def summarize_profile(raw: Path, top: int) -> list[str]:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    if not raw.exists():
        return ["(py-spy wrote nothing: is ptrace allowed?)"]
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    out = [f"{samples} samples (busy only); own time:"]
    out += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    out.append("total (inclusive) time, frames under 99% (the loop's own frames left out):")
    inner = [(f, n) for f, n in total.most_common() if n < 0.99 * samples]
    out += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in inner[:top]]
    return out


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def fmt(v: float, digits: int = 1) -> str:
    return "-" if math.isnan(v) else f"{v:,.{digits}f}"


def print_results(results: list[MixResult], rss: dict[str, int], loops: dict[str, str]) -> None:
    print()
    print("=" * 100)
    for server in dict.fromkeys(r.server for r in results):
        print(
            f"\n## {server}  (loop: {loops.get(server, '-')}, peak RSS {rss[server] / 1024:.1f} MiB)"
        )
        for r in (x for x in results if x.server == server):
            m, f = r.max_run, r.fixed
            bound = []
            if m.cpu0_util >= 0.9:
                bound.append("server-bound")
            if m.client_util >= 0.9:
                bound.append("CLIENT-BOUND")
            limit = f" -> {', '.join(bound)}" if bound else ""
            print(f"  [{r.mix}] {r.path}")
            print(
                f"    max qps        {m.qps:>10,.0f}  lost {m.lost_pct:.2f}%  (-c {r.max_setting[0]} "
                f"-q {r.max_setting[1]}; server cpu {100 * m.server_util:.0f}% "
                f"+ ksoftirqd/0 {100 * (m.cpu0_util - m.server_util):.0f}%, "
                f"dnsperf cpu {100 * m.client_util:.0f}%{limit}; "
                f"{fmt(m.us_per_query, 2)} us/q at saturation)"
            )
            print(
                f"    capacity       {fmt(m.capacity, 0):>10} qps per whole CPU "
                "(1e6 / server us per query at saturation)"
            )
            print(
                f"    @{r.rate:,} qps    p50 {fmt(f.percentile(50))} us  p99 {fmt(f.percentile(99))} us"
                f"  p99.9 {fmt(f.percentile(99.9))} us  (avg {fmt(f.avg_latency_us)} us, "
                f"{f.qps:,.0f} qps, lost {f.lost_pct:.2f}%)"
            )
            print(
                f"    server CPU     {fmt(f.us_per_query, 2)} us/query at {r.rate:,} qps "
                f"(schedstat: {fmt(f.us_per_query_sched, 2)}; server cpu {100 * f.server_util:.0f}%)"
            )
            codes = ", ".join(
                f"{k} {100 * v / max(1, sum(f.rcodes.values())):.2f}%" for k, v in f.rcodes.items()
            )
            print(f"    rcodes         {codes}")
            noise = max(m.other_load(SERVER_CPU), f.other_load(SERVER_CPU))
            noise1 = m.other_load(CLIENT_CPU)
            steal = max(m.cpu_steal.get(SERVER_CPU, 0), f.cpu_steal.get(SERVER_CPU, 0))
            if noise > 0.05 or noise1 > 0.05 or steal > 0.02 * CLK_TCK * m.seconds:
                print(
                    f"    NOTE: other load seen: cpu0 {100 * noise:.0f}%, cpu1 {100 * noise1:.0f}% "
                    f"(steal {steal} ticks): wall-clock figures are pessimistic"
                )
            for p in r.problems:
                print(f"    PROBLEM: {p}")


def print_targets(results: list[MixResult], kdns_names: list[str]) -> None:
    by = {(r.server, r.mix): r for r in results}
    print("\n## kdns / unbound and targets")
    for name in kdns_names:
        for mix in ("hits", "nxdomain", "nxmemo", "whoami"):
            k = by.get((name, mix))
            if k is None:
                continue
            u = by.get(("unbound", mix))
            cpu = k.fixed.us_per_query
            line = (
                f"  {name:<13} {mix:<9} cpu {fmt(cpu, 2):>7} us/q  max {k.max_run.qps:>9,.0f} qps"
            )
            if u is not None:
                cpu_ratio = cpu / u.fixed.us_per_query if u.fixed.us_per_query else float("nan")
                qps_ratio = k.max_run.qps / u.max_run.qps if u.max_run.qps else float("nan")
                cap_ratio = k.max_run.capacity / u.max_run.capacity
                line += (
                    f"  | kdns/unbound: cpu x{cpu_ratio:.2f}, max qps x{qps_ratio:.2f}, "
                    f"capacity x{cap_ratio:.2f}"
                )
            print(line)
            if mix == "hits":
                if u is not None:
                    print(
                        f"      target cpu/q <= {TARGET_HIT_CPU_RATIO}x unbound "
                        f"({TARGET_HIT_CPU_RATIO * u.fixed.us_per_query:.2f} us): "
                        f"{verdict(cpu <= TARGET_HIT_CPU_RATIO * u.fixed.us_per_query)}"
                    )
                print(
                    f"      target max qps >= {TARGET_HIT_MAX_QPS:,}: "
                    f"{verdict(k.max_run.qps >= TARGET_HIT_MAX_QPS)}"
                    + (" (client-bound: a floor)" if k.max_run.client_util >= 0.9 else "")
                    + f"; by capacity per CPU: {verdict(k.max_run.capacity >= TARGET_HIT_MAX_QPS)}"
                )
            else:
                print(
                    f"      target cpu/q <= {TARGET_SLOW_CPU_US:g} us: {verdict(cpu <= TARGET_SLOW_CPU_US)}"
                )


# --------------------------------------------------------------------------- main


def export_rev(rev: str, dest: Path) -> str:
    """Extract the ``kdns`` package of commit ``rev`` into ``dest`` (reads objects only: the
    index and work tree others are editing stay untouched). Returns the full commit id."""
    git = ["git", "-C", str(REPO)]
    sha = subprocess.run(
        [*git, "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run([*git, "archive", sha, "kdns"], capture_output=True, check=True)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return sha


def describe_tree() -> str:
    """The work tree's commit and how many files under kdns/ differ from it."""
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", "kdns"], capture_output=True, text=True
    )
    dirty = len(status.stdout.splitlines())
    return f"work tree at {head.stdout.strip() or '?'}" + (
        f" + {dirty} uncommitted kdns/ files" if dirty else ""
    )


def kdns_has_plugin(name: str, root: Path) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "kdns", "-plugins"],
        cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    return f"dns.{name}" in out.split()


_ZONES = (
    "import json, sys; from pathlib import Path; from kdns import cli; "
    "loaded = cli.load(Path(sys.argv[1]), 53); "
    "print(json.dumps(sorted({z for s in loaded.servers for z in s.zones})))"
)


def kdns_zones(corefile: Path, root: Path) -> set[str]:
    """The zones of the Corefile's server blocks, as kdns itself reads them ("example.test.")."""
    out = subprocess.run(
        [sys.executable, "-c", _ZONES, str(corefile)],
        cwd=corefile.parent,
        env=dict(os.environ, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        print(f"could not read the zones of {corefile}: {out.stderr.strip()[-500:]}")
        return set()
    return {str(z).lower() for z in json.loads(out.stdout)}


def covered(zones: set[str], name: str) -> bool:
    """Whether a server block zone covers ``name`` (both absolute, lower case)."""
    return any(z == "." or name == z or name.endswith("." + z) for z in zones)


def build_specs(
    args: argparse.Namespace, corefile: Path, port: int, root: Path
) -> list[ServerSpec]:
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    kdns_args = ["-conf", str(corefile), "-dns.port", str(port), "-quiet"]
    specs: list[ServerSpec] = []
    for loop in args.loops:
        boot = ["-m", "kdns"] if loop == "uvloop" else ["-c", NO_UVLOOP]
        specs.append(
            ServerSpec(
                f"kdns-{loop}", "kdns", [sys.executable, *boot, *kdns_args], corefile.parent, env
            )
        )
    return specs


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--corefile", type=Path, default=BENCH_DIR / "Corefile")
    p.add_argument(
        "--records",
        type=Path,
        default=BENCH_DIR / "example.test.yaml",
        help="records YAML that unbound mirrors (the one the Corefile serves)",
    )
    p.add_argument(
        "--duration", type=float, default=10.0, help="seconds of each max-qps and fixed-rate run"
    )
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument(
        "--sweep", type=float, default=2.0, help="seconds per -c/-q sweep step (0: no sweep)"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="max-qps and fixed-rate runs per mix: the best max qps is kept, and the fixed-rate "
        "run with the least other load on CPU 0",
    )
    p.add_argument(
        "--rate", type=int, default=10_000, help="qps of the fixed-rate (latency, CPU) run"
    )
    p.add_argument("--mixes", default="hits,nxdomain,nxmemo,whoami")
    p.add_argument(
        "--nx-names", type=int, default=100_000, help="distinct random names of the nxdomain mix"
    )
    p.add_argument(
        "--loops", default="uvloop,asyncio", help="kdns event loops to run: uvloop,asyncio"
    )
    p.add_argument(
        "--rev",
        help="bench the kdns of this commit (git archive into a temp dir) instead of the work "
        "tree, which other engineers may be editing mid-run",
    )
    p.add_argument("--no-unbound", action="store_true")
    p.add_argument("--no-kdns", action="store_true")
    p.add_argument("--edns", action="store_true", help="send EDNS0 (dnsperf -e)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="wait up to S seconds for other load to settle before each run (0: never)",
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy the kdns (first loop) per mix afterwards"
    )
    p.add_argument(
        "--flamegraph", action="store_true", help="with --profile, also write SVG flamegraphs"
    )
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--outdir", default=str(BENCH_DIR / "out"), help="where JSON and flamegraphs go")
    p.add_argument("--json", type=Path, help="write all figures as JSON here")
    args = p.parse_args(argv)
    args.loops = [x for x in args.loops.split(",") if x]
    wanted = [x for x in args.mixes.split(",") if x]
    if "kubeadm" in wanted:
        # Its own servers (kubeadm's Corefile, the fake API server, a loopback upstream).
        sys.path.insert(0, str(REPO))
        from tests.bench import kubeadm_bench

        kubeadm_argv = ["--duration", f"{args.duration:g}", "--rate", str(args.rate)]
        kubeadm_argv += ["--rev", args.rev] if args.rev else []
        kubeadm_argv += ["--no-unbound"] if args.no_unbound else []
        kubeadm_argv += ["--repeat", str(args.repeat)]
        kubeadm_bench.main(kubeadm_argv)
        wanted.remove("kubeadm")
        if not wanted:
            return 0

    if len(os.sched_getaffinity(0)) < 2 and os.cpu_count() and os.cpu_count() < 2:  # type: ignore[operator]
        sys.exit("needs 2 CPUs (server on CPU 0, client on CPU 1)")
    os.sched_setaffinity(0, {CLIENT_CPU})  # this harness never competes with the server
    ensure_tools()
    Path(args.outdir).mkdir(parents=True, exist_ok=True)

    zone, ttl, rrs = load_records(args.records)
    # The SOA kdns's records plugin makes for a zone without one (its README): MNAME
    # ns.dns.ZONE, serial = the file's mtime, MINIMUM = the document's TTL.
    serial = int(args.records.stat().st_mtime)
    soa = f"ns.dns.{zone} hostmaster.{zone} {serial} 7200 1800 86400 {ttl}"
    corefile = args.corefile.resolve()
    results: list[MixResult] = []
    rss: dict[str, int] = {}
    loops: dict[str, str] = {}
    prints: dict[str, dict[tuple[str, str], tuple[Any, ...]]] = {}
    profiles: dict[str, list[str]] = {}
    failed = False

    with tempfile.TemporaryDirectory(prefix="kdns-bench-") as tmp:
        workdir = Path(tmp)
        all_mixes = mixes(workdir, zone, args.nx_names)
        unknown = set(wanted) - set(all_mixes)
        if unknown:
            sys.exit(f"unknown mixes: {', '.join(sorted(unknown))}")
        port = free_port()
        specs: list[ServerSpec] = []
        root = REPO
        source = describe_tree()
        if args.rev:
            root = workdir / "src"
            source = f"git archive {export_rev(args.rev, root)}"
        if not args.no_kdns:
            if not kdns_has_plugin("records", root) and args.corefile == BENCH_DIR / "Corefile":
                print("kdns has no records plugin yet: kdns runs whoami only", flush=True)
                fallback = workdir / "Corefile"
                fallback.write_text("whoami.test {\n    bind 127.0.0.1\n    whoami\n}\n")
                corefile = fallback
            specs += build_specs(args, corefile, port, root)
        served = kdns_zones(corefile, root) if not args.no_kdns else set()
        if not args.no_unbound:
            conf = unbound_conf(workdir, port, zone, ttl, rrs, soa)
            specs.append(
                ServerSpec(
                    "unbound",
                    "unbound",
                    [which("unbound") or "unbound", "-d", "-c", str(conf)],
                    workdir,
                )
            )

        probe = dnslib.DNSRecord.question(f"web.{zone}", "A").pack()
        print(
            f"kdns bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, port {port}, "
            f"servers on cpu {SERVER_CPU}, dnsperf on cpu {CLIENT_CPU}",
            flush=True,
        )
        print(f"kdns: {source}; {corefile}", flush=True)
        for spec in specs:
            server = Server(spec, workdir)
            try:
                server.start(port, probe)
            except RuntimeError as err:
                print(f"!! {spec.name}: {err}", flush=True)
                failed = True
                continue
            try:
                loops[spec.name] = server.loop_kind()
                prints[spec.name] = {}
                for name in wanted:
                    mix = all_mixes[name]
                    if spec.kind == "unbound" and not mix.unbound:
                        continue
                    zone_of_mix = "whoami.test." if name == "whoami" else zone
                    if spec.kind == "kdns" and not covered(served, zone_of_mix):
                        print(
                            f"-- {spec.name}: {name} skipped ({zone_of_mix} not in {corefile.name})"
                        )
                        continue
                    problems, fp = check_answers(port, mix)
                    prints[spec.name].update(fp)
                    if problems:
                        failed = True
                        print(f"!! {spec.name} {name}: wrong answers, not measured:", flush=True)
                        for prob in problems:
                            print(f"     {prob}")
                        continue
                    print(f".. {spec.name} {name}", flush=True)
                    result = measure(server, port, mix, workdir, args)
                    results.append(result)
                    print(
                        f"   max {result.max_run.qps:,.0f} qps, p50 {fmt(result.fixed.percentile(50))} us, "
                        f"p99 {fmt(result.fixed.percentile(99))} us, {fmt(result.fixed.us_per_query, 2)} us/q",
                        flush=True,
                    )
                    if (
                        args.profile
                        and spec.kind == "kdns"
                        and spec.name == f"kdns-{args.loops[0]}"
                    ):
                        profiles[f"{spec.name} {name}"] = profile(server, port, mix, workdir, args)
                rss[spec.name] = proc_status_kb(server.pid, "VmHWM")
            finally:
                server.stop()

    print_results(results, rss, loops)
    kdns_names = [s for s in rss if s.startswith("kdns")]
    if "unbound" in prints:
        for name in kdns_names:
            diffs = [
                k
                for k, v in prints.get(name, {}).items()
                if k in prints["unbound"] and prints["unbound"][k] != v
            ]
            same = len([k for k in prints.get(name, {}) if k in prints["unbound"]]) - len(diffs)
            print(f"\n## answers {name} vs unbound: {same} identical", end="")
            print(
                f", {len(diffs)} differ: " + "; ".join(" ".join(d) for d in diffs[:6])
                if diffs
                else ""
            )
            for d in diffs[:3]:
                print(
                    f"    {' '.join(d)}\n      kdns    {prints[name][d]}\n      unbound {prints['unbound'][d]}"
                )
    print_targets(results, kdns_names)
    for key, lines in profiles.items():
        print(f"\n## py-spy {key}")
        print("\n".join(lines))
    if args.json:
        doc = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv,
            "kdns": source,
            "rss_kb": rss,
            "loops": loops,
            "results": [r.summary() for r in results],
            "profiles": profiles,
        }
        args.json.write_text(json.dumps(doc, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

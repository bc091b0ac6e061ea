"""Hostile clients against one kdns: a datagram fuzzer and TCP abuse, with correctness checks.

See README.md beside this file. Loopback only; bounded by ``--datagrams`` and ``--tcp-seconds``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support import apiserver as fa  # noqa: E402
from tests.support import (  # noqa: E402
    clients,
    kdnsproc,
    kube_e2e,
)
from tests.support.upstream import FakeUpstream  # noqa: E402

ZONE = "zone: example.test\nrecords:\n  web: {A: 192.0.2.10}\n  www: {CNAME: web}\n"
COREFILE = """\
example.test:{port} {
    bind 127.0.0.1
    records zone.yaml
}
whoami.test:{port} {
    bind 127.0.0.1
    whoami
}
.:{port} {
    bind 127.0.0.1
    errors
    prometheus 127.0.0.1:METRICS
    kubernetes cluster.local in-addr.arpa {
        kubeconfig KUBECONFIG
        fallthrough in-addr.arpa
    }
    cache 30
    forward . 127.0.0.1:UPSTREAM
}
"""
#: (name, type, what the answer must hold)
CHECKS = [
    ("web.example.test.", "A", "192.0.2.10"),
    ("WWW.Example.Test.", "A", "192.0.2.10"),
    ("web.shop.svc.cluster.local.", "A", "10.96.0.20"),
    ("ext.example.net.", "A", "192.0.2.1"),
    ("whoami.test.", "A", "127.0.0.1"),
]


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def valid_query(rng: random.Random) -> bytes:
    name, qtype, _ = rng.choice(CHECKS)
    message = dns.message.make_query(
        name, qtype, use_edns=rng.choice([False, 0]), payload=rng.choice([512, 1232, 4096])
    )
    message.id = rng.randrange(65536)
    return message.to_wire()


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One of the ways a client gets a query wrong, on purpose or not."""
    buf = bytearray(data)
    kind = rng.randrange(9)
    if kind == 0:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
    if kind == 1:  # bit flips
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == 2:  # truncation
        return bytes(buf[: rng.randrange(len(buf))])
    if kind == 3:  # wrong section counts
        struct.pack_into("!HHHH", buf, 4, *(rng.randrange(65536) for _ in range(4)))
        return bytes(buf)
    if kind == 4:  # a compression pointer loop in the question
        return bytes(buf[:12]) + b"\xc0\x0c\x00\x01\x00\x01"
    if kind == 5:  # an OPT record whose lengths lie
        opt = b"\x00\x00\x29" + struct.pack("!HBBHH", 4096, 0, 0, 0, rng.randrange(1, 65535))
        struct.pack_into("!H", buf, 10, 1)
        return bytes(buf) + opt + bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
    if kind == 6:  # junk after the question
        return bytes(buf) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
    if kind == 7:  # a response instead of a query, or another opcode
        buf[2] ^= rng.choice([0x80, 0x28, 0x78])
        return bytes(buf)
    # a name with odd bytes in its labels
    label = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 63)))
    head = struct.pack("!HHHHHH", rng.randrange(65536), 0x0100, 1, 0, 0, 0)
    return head + bytes([len(label)]) + label + b"\x07cluster\x05local\x00\x00\x01\x00\x01"


def check(port: int, sock: socket.socket, stats: dict[str, int], rng: random.Random) -> None:
    name, qtype, expected = rng.choice(CHECKS)
    query = dns.message.make_query(name, qtype)
    sock.sendto(query.to_wire(), ("127.0.0.1", port))
    deadline = time.monotonic() + 2
    stats["checks"] += 1
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65535)
        except TimeoutError:
            continue
        reply = dns.message.from_wire(data)
        if reply.id != query.id:
            continue
        texts = [rr.to_text() for rrset in (*reply.answer, *reply.additional) for rr in rrset]
        if reply.rcode() != dns.rcode.NOERROR or not any(expected in t for t in texts):
            stats["wrong"] += 1
            print(f"WRONG {name} {qtype}: {dns.rcode.to_text(reply.rcode())} {texts}")
        return
    stats["lost"] += 1
    print(f"LOST {name} {qtype}")


def fuzz(port: int, pid: int, count: int, rng: random.Random, stats: dict[str, int]) -> int:
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    for s in senders:
        s.setblocking(False)
    checker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    checker.settimeout(0.2)
    peak = 0
    try:
        for i in range(count):
            data = mutate(rng, valid_query(rng)) if rng.random() < 0.9 else valid_query(rng)
            sock = senders[i % len(senders)]
            try:
                sock.sendto(data, ("127.0.0.1", port))
                stats["sent"] += 1
            except BlockingIOError:
                time.sleep(0.001)
            for s in senders if i % 64 == 0 else ():
                drain(s, stats)
            if i % 2000 == 0:
                check(port, checker, stats, rng)
                peak = max(peak, rss_kb(pid)[0])
                time.sleep(0.002)
        time.sleep(0.5)
        for s in senders:
            drain(s, stats)
    finally:
        for s in [*senders, checker]:
            s.close()
    return peak


def drain(sock: socket.socket, stats: dict[str, int]) -> None:
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            return
        stats["replies"] += 1
        try:
            dns.message.from_wire(data)
        except dns.exception.DNSException as err:
            stats["unparseable"] += 1
            if stats["unparseable"] <= 5:
                print(f"UNPARSEABLE reply {data[:40].hex()}...: {err}")


def tcp_abuse(port: int, seconds: float, stats: dict[str, int]) -> None:
    """Slow senders, a pipeliner that never reads, and a connection flood from 127.0.0.1, for
    ``seconds``, while a client at 127.0.0.2 (another pod) probes over TCP."""
    held: list[socket.socket] = []
    query = dns.message.make_query("web.example.test.", "A").to_wire()
    framed = struct.pack("!H", len(query)) + query
    deadline = time.monotonic() + seconds
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"\xff")  # a length prefix never finished
            held.append(s)
        hog = socket.create_connection(("127.0.0.1", port), timeout=1)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.setblocking(False)
        held.append(hog)
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                hog.send(framed * 200)
            probe = dns.message.make_query("web.example.test.", "A")
            try:
                reply = dns.query.tcp(probe, "127.0.0.1", port=port, timeout=2, source="127.0.0.2")
                stats["tcp_probes"] += 1
                if not reply.answer:
                    stats["tcp_wrong"] += 1
            except (OSError, EOFError, dns.exception.DNSException):
                stats["tcp_lost"] += 1
            time.sleep(0.05)
    finally:
        for s in held:
            s.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datagrams", type=int, default=1_000_000)
    parser.add_argument("--tcp-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rss-budget", type=int, default=200, help="MB")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stats = dict.fromkeys(
        ("sent", "replies", "unparseable", "checks", "wrong", "lost", "tcp_probes",
         "tcp_wrong", "tcp_lost"), 0
    )  # fmt: skip
    with (
        kube_e2e.api_server() as api,
        FakeUpstream() as upstream,
        tempfile.TemporaryDirectory() as tmp,
    ):
        api.start()
        api.create(fa.namespace("shop"))
        api.create(fa.service("web", "shop", cluster_ips=["10.96.0.20"]))
        kubeconfig = api.call(lambda: api.api.write_kubeconfig(Path(tmp) / "kubeconfig.yaml"))
        metrics = kdnsproc.free_port()
        text = (
            COREFILE.replace("KUBECONFIG", str(kubeconfig))
            .replace("UPSTREAM", str(upstream.port))
            .replace("METRICS", str(metrics))
        )
        with clients.serve(text, files={"zone.yaml": ZONE}) as srv:
            pid = srv.proc.proc.pid
            time.sleep(1)
            rss_start, _ = rss_kb(pid)
            fds_start = fds(pid)
            started = time.monotonic()
            peak = fuzz(srv.port, pid, args.datagrams, rng, stats)
            fuzz_seconds = time.monotonic() - started
            tcp_abuse(srv.port, args.tcp_seconds, stats)
            time.sleep(12)  # idle and read timeouts close what the abuse left
            rss_end, hwm = rss_kb(pid)
            fds_end = fds(pid)
            alive = srv.proc.proc.poll() is None
            output = srv.proc.output
    tracebacks = output.count("Traceback")
    print(
        f"datagrams sent {stats['sent']:,} in {fuzz_seconds:.0f} s; replies {stats['replies']:,}; "
        f"unparseable {stats['unparseable']}"
    )
    print(f"check queries {stats['checks']}: wrong {stats['wrong']}, lost {stats['lost']}")
    print(
        f"TCP probes during abuse {stats['tcp_probes']}: wrong {stats['tcp_wrong']}, "
        f"lost {stats['tcp_lost']}"
    )
    print(
        f"RSS start {rss_start / 1024:.1f} MB, peak {max(peak, hwm) / 1024:.1f} MB "
        f"(VmHWM), end {rss_end / 1024:.1f} MB; descriptors start {fds_start}, end {fds_end}"
    )
    print(f"kdns alive: {alive}; tracebacks logged: {tracebacks}")
    failed = (
        stats["unparseable"] or stats["wrong"] or stats["lost"] or stats["tcp_wrong"]
        or stats["tcp_lost"] > stats["tcp_probes"] // 100 or tracebacks or not alive or hwm / 1024 > args.rss_budget or fds_end > fds_start
    )  # fmt: skip
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

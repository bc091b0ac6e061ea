"""``rrl``: BIND-style token buckets per client prefix; a flooding client is slipped and
dropped while a light client keeps being answered."""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.request
from pathlib import Path

import dns.flags
import dns.message
import pytest

from kdns.errors import CorefileError
from kdns.plugins.rrl import options as rrl_options
from kdns.plugins.rrl.table import NANOS, Table, Verdict
from tests.support import clients, seam

ZONE = "zone: example.test\nrecords:\n  web: {A: 192.0.2.1}\n"


def test_a_new_account_allows_its_first_reply_then_a_burst_is_dropped() -> None:
    table = Table(window=2, slip=0, max_size=100)
    interval = NANOS  # 1 reply per second
    assert table.debit("k", interval, 0) == Verdict.ALLOW
    assert table.debit("k", interval, 1) == Verdict.DROP
    assert table.debit("k", interval, 2) == Verdict.DROP


def test_credit_is_capped_at_one_second() -> None:
    table = Table(window=15, slip=0, max_size=100)
    interval = NANOS // 100
    table.debit("k", interval, 0)
    table.debit("k", interval, 5 * NANOS)
    # After a long pause the balance is one second less this reply, not five seconds.
    allowed = sum(table.debit("k", interval, 5 * NANOS) == Verdict.ALLOW for _ in range(200))
    assert allowed == 99


@pytest.mark.parametrize(("ratio", "slips"), [(0, 0), (1, 10), (2, 5), (5, 2), (10, 1)])
def test_every_nth_reply_over_the_limit_slips(ratio: int, slips: int) -> None:
    table = Table(window=15, slip=ratio, max_size=100)
    table.debit("k", NANOS, 0)
    verdicts = [table.debit("k", NANOS, 1) for _ in range(10)]
    assert verdicts.count(Verdict.SLIP) == slips
    assert verdicts.count(Verdict.DROP) == 10 - slips


def test_the_table_is_bounded_and_evicts_only_accounts_back_at_full_credit() -> None:
    table = Table(window=1, slip=0, max_size=4)
    for i in range(4):
        table.debit(i, NANOS, 0)
    assert table.debit("new", NANOS, 0) == Verdict.ALLOW
    assert len(table) == 4 and table.untracked == 1, "all in debt: the new key is not tracked"
    assert table.debit("later", NANOS, 3 * NANOS) == Verdict.ALLOW
    assert len(table) == 4 and table.untracked == 1, (
        "an account that earned its credit back made room"
    )


def parse(block: str) -> rrl_options.Options:
    d = seam.directive(f"example.test {{\n    rrl {{\n{block}\n    }}\n}}\n", "rrl")
    return rrl_options.parse(d, ("example.test.",))


def test_category_rates_default_to_responses_per_second() -> None:
    opts = parse("responses-per-second 10\nnxdomains-per-second 0\nslip-ratio 2")
    assert (opts.responses, opts.nodata, opts.nxdomains, opts.errors) == (10, 10, 0, 10)
    assert (opts.window, opts.ipv4_prefix, opts.ipv6_prefix, opts.max_table_size) == (
        15,
        24,
        56,
        100_000,
    )


@pytest.mark.parametrize(
    "option",
    ["window 0", "ipv4-prefix-length 33", "ipv6-prefix-length 0", "slip-ratio 11",
     "responses-per-second -1", "max-table-size x", "report-only yes", "bogus 1"],
)  # fmt: skip
def test_bad_options_stop_startup(option: str) -> None:
    text = f"example.test {{\n    rrl {{\n        {option}\n    }}\n    whoami\n}}\n"
    with pytest.raises(CorefileError, match=r"^plugin/rrl: Corefile:3 - Error during parsing"):
        seam.load(text)


def _query(qid: int) -> bytes:
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + b"\x03web\x07example\x04test\x00\x00\x01\x00\x01"
    )


def _flood(source: str, port: int, count: int, stop: threading.Event, out: dict[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.setblocking(False)
        for i in range(count):
            if stop.is_set():
                break
            sock.sendto(_query(i & 0xFFFF), ("127.0.0.1", port))
            while True:
                try:
                    reply = sock.recv(4096)
                except BlockingIOError:
                    break
                key = "slipped" if reply[2] & 0x02 else "answered"
                out[key] = out.get(key, 0) + 1
            if i % 50 == 0:
                time.sleep(0.001)
        deadline = time.monotonic() + 0.5
        sock.settimeout(0.05)
        while time.monotonic() < deadline:
            try:
                reply = sock.recv(4096)
            except OSError:
                continue
            key = "slipped" if reply[2] & 0x02 else "answered"
            out[key] = out.get(key, 0) + 1
    out["sent"] = i + 1


def _light(source: str, port: int, count: int) -> list[float | None]:
    latencies: list[float | None] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(1.0)
        for i in range(count):
            start = time.perf_counter()
            sock.sendto(_query(i), ("127.0.0.1", port))
            try:
                sock.recv(4096)
                latencies.append(time.perf_counter() - start)
            except OSError:
                latencies.append(None)
            time.sleep(0.03)
    return latencies


@pytest.mark.parametrize("report_only", [False, True], ids=["limiting", "report-only"])
def test_a_flooding_client_is_limited_while_a_light_one_is_answered(
    report_only: bool, tmp_path: Path
) -> None:
    corefile = (
        "example.test:{port} {\n    bind 127.0.0.1\n    prometheus 127.0.0.1:METRICS\n"
        "    rrl {\n        responses-per-second 50\n        slip-ratio 2\n"
        + ("        report-only\n" if report_only else "")
        + "    }\n    records zone.yaml\n}\n"
    )
    metrics_port = clients.kdnsproc.free_port()
    corefile = corefile.replace("METRICS", str(metrics_port))
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        stop = threading.Event()
        flooded: dict[str, int] = {}
        flooder = threading.Thread(
            target=_flood, args=("127.0.1.1", srv.port, 50_000, stop, flooded)
        )
        flooder.start()
        latencies = _light("127.0.2.1", srv.port, 100)
        stop.set()
        flooder.join(10)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=3) as r:
            scraped = r.read().decode()
    answered = [x for x in latencies if x is not None]
    assert len(answered) >= 0.99 * len(latencies), "the light client must keep its answers"
    answered.sort()
    assert answered[int(0.99 * (len(answered) - 1))] < 0.25
    exceeded = [
        line for line in scraped.splitlines()
        if line.startswith('coredns_rrl_responses_exceeded_total{client_ip="127.0.1.1"}')
    ]  # fmt: skip
    assert exceeded and float(exceeded[0].split()[-1]) > 100
    assert "127.0.2.1" not in "".join(
        line for line in scraped.splitlines() if line.startswith("coredns_rrl")
    )
    if report_only:
        assert flooded.get("slipped", 0) == 0
    else:
        # At most the rate (50/s over the few seconds of the run, plus a second of credit) is
        # answered in full; of the rest every second reply slips and the others are dropped.
        over = flooded["sent"] - flooded.get("answered", 0)
        assert flooded.get("answered", 0) <= 50 * 10, flooded
        assert 0.4 * over <= flooded.get("slipped", 0) <= 0.6 * over, flooded


def test_tcp_is_not_response_limited() -> None:
    corefile = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        "    rrl {\n        responses-per-second 1\n    }\n    records zone.yaml\n}\n"
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        replies = [srv.query("web.example.test.", "A", tcp=True) for _ in range(10)]
        udp = [srv.query("web.example.test.", "A", timeout=0.3) for _ in range(1)]
    assert all(r.answer for r in replies)
    assert udp[0].answer
    assert not any(r.flags & dns.flags.TC for r in replies)


def test_replayed_replies_are_counted_and_limited_too() -> None:
    """A chain with rrl replays (rrl's own cost stays small), and every replay asks the
    client's account first: a burst of one repeated query is limited as without replay."""
    corefile = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        "    rrl {\n        responses-per-second 5\n    }\n    records zone.yaml\n}\n"
    )
    with clients.serve(corefile, files={"zone.yaml": ZONE}) as srv:
        answered = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.2)
            for i in range(200):
                sock.sendto(_query(i), ("127.0.0.1", srv.port))
                try:
                    sock.recv(4096)
                    answered += 1
                except OSError:
                    pass
    # One second of credit (5) and a few more as time passes: far fewer than 200.
    assert 5 <= answered <= 30, answered


def test_a_chain_with_rrl_keeps_replies_gated_by_the_client() -> None:
    loaded = seam.load(
        "example.test {\n    rrl {\n        responses-per-second 5\n    }\n    whoami\n}\n"
    )
    from kdns.server.zones import Route

    route = Route.of("example.test.", loaded.servers[0].handler, "dns://:53")
    assert route.lease is not None and route.gate is not None

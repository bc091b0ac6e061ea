"""Replies kept for repeated UDP queries (``kdns.replay``): same answers, same metrics, and
never a stale reply after the data changed."""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.query
import dns.rrset
import pytest

from kdns import config, corefile, replay, wire
from kdns.request import Request
from kdns.server.udp import UDPListener
from kdns.server.zones import Route, ZoneTable
from tests.operations.test_metrics_count_exactly import samples
from tests.support import clients, kdnsproc

ZONE = "zone: example.test\nrecords:\n  web: {{A: {address}}}\n"


def _ask(port: int, name: str = "web.example.test.", qid: int = 4242) -> dns.message.Message:
    q = dns.message.make_query(name, "A", id=qid)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=2)


def _addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rr.address for rrset in reply.answer for rr in rrset)


def test_a_repeated_query_gets_the_new_answer_once_the_records_reload(tmp_path: Path) -> None:
    corefile_text = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        "    records zone.yaml {\n        reload 100ms\n    }\n}\n"
    )
    with clients.serve(corefile_text, files={"zone.yaml": ZONE.format(address="10.0.0.1")}) as srv:
        for _ in range(20):
            assert _addresses(_ask(srv.port)) == ["10.0.0.1"]
        assert srv.workdir is not None
        (srv.workdir / "zone.yaml").write_text(ZONE.format(address="10.0.0.2"))
        deadline = time.monotonic() + 5
        while _addresses(_ask(srv.port)) != ["10.0.0.2"]:
            assert time.monotonic() < deadline, "the reload never reached a repeated query"
            time.sleep(0.05)
        # Every later copy of the query gets the new data: nothing old is replayed.
        assert {tuple(_addresses(_ask(srv.port))) for _ in range(50)} == {("10.0.0.2",)}


def test_replayed_replies_carry_each_query_id_and_letter_case() -> None:
    corefile_text = "example.test:{port} {\n    bind 127.0.0.1\n    records zone.yaml\n}\n"
    with clients.serve(corefile_text, files={"zone.yaml": ZONE.format(address="10.0.0.1")}) as srv:
        for qid in (1, 2, 65535, 7, 7, 300):
            for name in ("web.example.test.", "WeB.ExAmPlE.tEsT."):
                reply = _ask(srv.port, name, qid)
                assert reply.id == qid
                assert reply.question[0].name.to_text() == name
                assert _addresses(reply) == ["10.0.0.1"]


def test_replayed_queries_are_counted_like_the_others() -> None:
    metrics_port = kdnsproc.free_port()
    corefile_text = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        f"    prometheus 127.0.0.1:{metrics_port}\n    records zone.yaml\n}}\n"
    )
    with clients.serve(corefile_text, files={"zone.yaml": ZONE.format(address="10.0.0.1")}) as srv:
        for _ in range(40):
            _ask(srv.port)
        _ask(srv.port, "missing.example.test.")
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as resp:
            text = resp.read().decode()
    server = f"dns://127.0.0.1:{srv.port}"
    labels = {"server": server, "zone": "example.test.", "view": ""}
    requests = samples(text, "coredns_dns_requests_total")
    assert requests[frozenset({**labels, "proto": "udp", "family": "1", "type": "A"}.items())] == 41
    responses = samples(text, "coredns_dns_responses_total")
    assert responses[frozenset({**labels, "rcode": "NOERROR", "plugin": ""}.items())] == 40
    assert responses[frozenset({**labels, "rcode": "NXDOMAIN", "plugin": ""}.items())] == 1
    for family in ("coredns_dns_request_size_bytes", "coredns_dns_response_size_bytes"):
        counts = samples(text, family + "_count")
        assert counts[frozenset({**labels, "proto": "udp"}.items())] == 41
    durations = samples(text, "coredns_dns_request_duration_seconds_count")
    assert durations[frozenset({**labels, "type": "A"}.items())] == 41


def _chain(tmp_path: Path, directives: str) -> object:
    (tmp_path / "zone.yaml").write_text(ZONE.format(address="10.0.0.1"))
    text = f"example.test:1053 {{\n{directives}\n    records zone.yaml\n}}\n"
    loaded = config.load(corefile.parse(text, filename=str(tmp_path / "Corefile")))
    return loaded.servers[0].handler


@pytest.mark.parametrize(
    ("directives", "replays"),
    [
        ("    errors", True),
        ("    errors\n    prometheus 127.0.0.1:0\n    loadbalance", True),
        ("    cache 30", True),
        ("    loop", True),
        ("    log", False),
        ("    acl {\n        allow net 127.0.0.0/8\n    }", False),
    ],
)
def test_only_chains_whose_links_all_declare_a_lease_replay(
    tmp_path: Path, directives: str, replays: bool
) -> None:
    assert replay.replayable(_chain(tmp_path, directives)) is replays


def test_a_full_table_starts_over(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = replay.cost(b"query0", b"reply")
    monkeypatch.setattr(replay, "BUDGET", replay.held()[0] + 3 * entry)
    table = replay.Table()
    lease = replay.Lease()
    for i in range(3):
        assert table.put(b"\x00\x00query%d" % i, b"\x00\x00reply", None, lease, replay.PURE)
    assert len(table) == 3 and table.bytes == 3 * entry
    table.put(b"\x00\x00query9", b"\x00\x00reply", None, lease, replay.PURE)
    assert len(table) == 1 and table.bytes == entry
    assert table.get(b"query9") == (b"reply", None, lease, replay.PURE, None)
    table.clear()
    assert table.bytes == 0


def test_oversized_queries_and_replies_are_never_kept() -> None:
    table = replay.Table()
    lease = replay.Lease()
    assert not table.put(b"q" * (replay.MAX_KEY + 1), b"reply", None, lease, lease)
    assert not table.put(b"query", b"r" * (replay.MAX_REPLY + 1), None, lease, lease)
    assert len(table) == 0 and table.bytes == 0


def test_ending_a_lease_ends_its_children_and_only_them() -> None:
    route, one, other = replay.Lease(), replay.Lease(), replay.Lease()
    child = replay.Lease.under(route, one)
    sibling = replay.Lease.under(other)
    one.end()
    assert not child.alive and sibling.alive and route.alive
    assert not replay.Lease.under(one).alive  # born under an ended lease: born ended
    assert replay.Lease.under(replay.PURE).alive
    with pytest.raises(ValueError):
        replay.PURE.end()


def test_a_corefile_reload_on_the_same_listener_forgets_kept_replies() -> None:
    corefile_text = "example.test:{port} {\n    bind 127.0.0.1\n    records old.yaml\n}\n"
    files = {
        "old.yaml": ZONE.format(address="10.0.0.1"),
        "new.yaml": ZONE.format(address="10.0.0.2"),
    }
    with clients.serve(corefile_text, files=files) as srv:
        for _ in range(20):
            assert _addresses(_ask(srv.port)) == ["10.0.0.1"]
        assert srv.workdir is not None
        path = srv.workdir / "Corefile"
        path.write_text(path.read_text().replace("old.yaml", "new.yaml"))
        srv.proc.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while _addresses(_ask(srv.port)) != ["10.0.0.2"]:
            assert time.monotonic() < deadline, "the reloaded Corefile never reached the query"
            time.sleep(0.05)
        assert {tuple(_addresses(_ask(srv.port))) for _ in range(50)} == {("10.0.0.2",)}


class _Counting:
    """A chain of one link that answers every query with the same leased answer."""

    name = "counting"
    lease = replay.PURE

    def __init__(self) -> None:
        self.served = 0
        self.answer = wire.Answer(
            rcode=wire.NOERROR, body=b"", flags=wire.QR << 8, lease=replay.PURE
        )

    def serve(self, req: Request) -> wire.Answer:
        self.served += 1
        return self.answer


async def _udp_ask(port: int, qid: int) -> dns.message.Message:
    q = dns.message.make_query("a.example.test.", "A", id=qid)
    return await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)


async def test_the_listener_reads_in_a_thread_only_while_something_can_replay() -> None:
    chain = _Counting()
    replaying = ZoneTable([Route.of("example.test.", chain, "dns://127.0.0.1:0")])
    plain = ZoneTable([Route("example.test.", chain, "dns://127.0.0.1:0")])
    listener = UDPListener(replaying, "127.0.0.1", 0)
    listener.open()
    try:
        assert listener.threaded
        for qid in range(1, 6):
            assert (await _udp_ask(listener.port, qid)).id == qid
        assert chain.served == 1  # the rest were replayed by the reader thread
        name = f"udp-127.0.0.1:{listener.port}"
        reader = [t for t in threading.enumerate() if t.name == name]
        assert len(reader) == 1
        listener.table = plain
        assert not listener.threaded and len(listener.replies) == 0
        for qid in range(6, 11):
            assert (await _udp_ask(listener.port, qid)).id == qid
        assert chain.served == 6
        deadline = time.monotonic() + 2
        while reader[0].is_alive():
            assert time.monotonic() < deadline, "the reader thread did not stop"
            await asyncio.sleep(0.01)
        listener.table = replaying
        assert listener.threaded
        for qid in range(11, 14):
            assert (await _udp_ask(listener.port, qid)).id == qid
        assert chain.served == 7
    finally:
        await listener.close()
    assert not any(t.name == name and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("destination", ["127.0.0.2", "127.1.2.3"])
def test_replayed_replies_leave_from_the_queried_address_on_a_wildcard_bind(
    destination: str,
) -> None:
    corefile_text = "example.test:{port} {\n    records zone.yaml\n}\n"
    with clients.serve(corefile_text, files={"zone.yaml": ZONE.format(address="10.0.0.1")}) as srv:
        srv.proc.wait_for_line(f"example.test.:{srv.port}")
        query = dns.message.make_query("web.example.test.", "A", id=77).to_wire()
        for _ in range(5):  # the first takes the chain, the rest are replayed
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(3)
                sock.sendto(query, (destination, srv.port))
                raw, (source, _port) = sock.recvfrom(65535)
            assert source == destination
            assert _addresses(dns.message.from_wire(raw)) == ["10.0.0.1"]


async def test_a_failure_in_the_reader_thread_does_not_stop_the_listener(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain = _Counting()
    listener = UDPListener(
        ZoneTable([Route.of("example.test.", chain, "dns://127.0.0.1:0")]), "127.0.0.1", 0
    )
    listener.open()

    def broken_counter(elapsed: float) -> None:
        raise RuntimeError("counter broke")

    try:
        await _udp_ask(listener.port, 1)
        (key, (tail, _count, route, own, gate)) = next(iter(listener.replies.replies.items()))
        listener.replies.replies[key] = (tail, broken_counter, route, own, gate)
        for qid in (2, 3, 4):
            assert (await _udp_ask(listener.port, qid)).id == qid
        assert "counter broke" in caplog.text
    finally:
        await listener.close()


def test_a_name_added_to_hosts_before_records_reaches_a_replayed_query() -> None:
    """hosts with fallthrough passes the query on because the name is not in its file; once
    the file has it, the byte-identical query gets the hosts answer, not the kept records one."""
    corefile_text = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        "    hosts hosts.txt {\n        reload 100ms\n        fallthrough\n    }\n"
        "    records zone.yaml\n}\n"
    )
    files = {"zone.yaml": ZONE.format(address="10.0.0.1"), "hosts.txt": "10.0.0.7 other.test\n"}
    with clients.serve(corefile_text, files=files) as srv:
        for _ in range(20):
            assert _addresses(_ask(srv.port)) == ["10.0.0.1"]
        assert srv.workdir is not None
        (srv.workdir / "hosts.txt").write_text("10.0.0.9 web.example.test\n")
        deadline = time.monotonic() + 5
        while _addresses(_ask(srv.port)) != ["10.0.0.9"]:
            assert time.monotonic() < deadline, "the hosts reload never reached a repeated query"
            time.sleep(0.05)
        assert {tuple(_addresses(_ask(srv.port))) for _ in range(50)} == {("10.0.0.9",)}


def _kept(metrics_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    found = re.search(r"^kdns_replay_entries (\S+)$", text, re.M)
    assert found is not None, "no kdns_replay_entries gauge"
    return int(float(found.group(1)))


def test_a_replayed_cache_hit_counts_its_ttl_down() -> None:
    metrics_port = kdnsproc.free_port()
    corefile_text = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        f"    prometheus 127.0.0.1:{metrics_port}\n    cache 30\n    records zone.yaml\n}}\n"
    )
    with clients.serve(corefile_text, files={"zone.yaml": ZONE.format(address="10.0.0.1")}) as srv:
        _ask(srv.port)  # fills the cache
        start = time.monotonic()
        seen: list[tuple[float, int]] = []
        while time.monotonic() - start < 2.5:
            reply = _ask(srv.port)
            seen.append((time.monotonic() - start, reply.answer[0].ttl))
            time.sleep(0.02)
        assert _kept(metrics_port) >= 1  # cache hits were kept, and replayed
        ttls = [ttl for _, ttl in seen]
        assert ttls == sorted(ttls, reverse=True), "a TTL went back up"
        assert ttls[0] - ttls[-1] >= 2, f"the TTL did not count down: {ttls[0]}..{ttls[-1]}"


def test_loop_replays_only_once_its_probe_is_done(tmp_path: Path) -> None:
    handler = _chain(tmp_path, "    loop")
    loop = next(link for link in replay.links(handler) if link.__class__.__name__ == "Loop")
    route = replay.RouteLease.of(handler)
    assert route is not None
    assert route.current() is None  # the probe must be counted: nothing is kept
    loop.disabled = True  # type: ignore[attr-defined]
    kept = route.current()
    assert kept is not None and kept.alive
    loop.disabled = False  # type: ignore[attr-defined]
    assert not kept.alive and route.current() is None


def test_loadbalance_rotations_replay() -> None:
    metrics_port = kdnsproc.free_port()
    corefile_text = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        f"    prometheus 127.0.0.1:{metrics_port}\n    loadbalance\n    records zone.yaml\n}}\n"
    )
    zone = "zone: example.test\nrecords:\n  web: {A: [10.0.0.1, 10.0.0.2, 10.0.0.3]}\n"
    with clients.serve(corefile_text, files={"zone.yaml": zone}) as srv:
        orders = []
        for qid in range(30):
            reply = _ask(srv.port, qid=qid)
            orders.append(tuple(rr.address for rr in reply.answer[0]))
        assert _kept(metrics_port) == 1  # the whole turn is kept once
        assert {sorted(o) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"] for o in orders} == {True}
        assert len(set(orders)) == 3, "every rotation is handed out"
        assert all(a != b for a, b in itertools.pairwise(orders)), "each query turns"


def test_replayed_cache_hits_are_counted_by_the_cache() -> None:
    metrics_port = kdnsproc.free_port()
    corefile_text = (
        "example.test:{port} {\n    bind 127.0.0.1\n"
        f"    prometheus 127.0.0.1:{metrics_port}\n    cache 30\n    records zone.yaml\n}}\n"
    )
    with clients.serve(corefile_text, files={"zone.yaml": ZONE.format(address="10.0.0.1")}) as srv:
        for qid in range(40):
            assert _addresses(_ask(srv.port, qid=qid)) == ["10.0.0.1"]
        assert _kept(metrics_port) == 1
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as resp:
            text = resp.read().decode()
        requests = samples(text, "coredns_cache_requests_total")
        hits = samples(text, "coredns_cache_hits_total")
        assert sum(requests.values()) == 40
        assert sum(v for k, v in hits.items() if ("type", "success") in k) == 39


class _Undeclared:
    """A link that passes every query on and says nothing about what it depends on."""

    name = "undeclared"

    def __init__(self, next: _Counting) -> None:
        self.next = next

    def serve(self, req: Request) -> wire.Answer:
        return self.next.serve(req)


async def test_a_chain_with_an_undeclared_link_runs_for_every_query() -> None:
    chain = _Counting()
    routes = [Route.of("example.test.", _Undeclared(chain), "dns://127.0.0.1:0")]  # type: ignore[arg-type]
    listener = UDPListener(ZoneTable(routes), "127.0.0.1", 0)
    listener.open()
    try:
        assert not listener.threaded
        for qid in range(1, 6):
            assert (await _udp_ask(listener.port, qid)).id == qid
        assert chain.served == 5 and len(listener.replies) == 0
    finally:
        await listener.close()

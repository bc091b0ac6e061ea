"""Requirement 30 of USER-NEEDS: at startup kdns sends ``<rand>.<rand>.ZONE. HINFO`` through its own
listener; seeing it more than twice means forward sends queries round in circles (the classic:
a resolv.conf naming a local stub resolver, coredns/coredns#2087), so kdns logs CoreDNS's FATAL
line and exits non-zero. An upstream that ignores HINFO only costs a log line
(coredns/coredns#4211), labelled as the probe's, and kdns keeps serving.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from tests.support import children, kdnsproc
from tests.support.upstream import FakeUpstream, free_port

FATAL = re.compile(
    r"\[FATAL\] plugin/loop: Loop \(127\.0\.0\.1:\d+ -> (?P<to>[0-9.]*:\d+)\) detected for zone "
    r'"(?P<zone>[^"]+)", see https://coredns\.io/plugins/loop#troubleshooting\. '
    r'Query: "HINFO (?P<name>\d+\.\d+\.[a-z.]*)"'
)


def run_until_exit(text: str, tmp_path: Path, timeout: float = 10.0) -> tuple[int, str, float]:
    path = tmp_path / "Corefile"
    path.write_text(text)
    proc = kdnsproc.KdnsProcess(["-conf", str(path)], cwd=str(tmp_path), env=children.child_env())
    start = time.monotonic()
    try:
        code = proc.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.stop()
        raise AssertionError(f"kdns still running after {timeout}s:\n{proc.output}") from None
    took = time.monotonic() - start
    proc.stop()
    return code, proc.output, took


@pytest.mark.parametrize(
    ("key", "bind", "zone", "to"),
    [
        (".", "", ".", ":{port}"),
        ("example.test", "    bind 127.0.0.1\n", "example.test.", "127.0.0.1:{port}"),
    ],
    ids=["root", "zone-with-bind"],
)
def test_forwarding_to_itself_is_fatal(
    tmp_path: Path, key: str, bind: str, zone: str, to: str
) -> None:
    port = free_port()
    text = f"{key}:{port} {{\n{bind}    loop\n    forward . 127.0.0.1:{port}\n}}\n"
    code, output, took = run_until_exit(text, tmp_path)
    assert code != 0
    assert took < 10
    match = FATAL.search(output)
    assert match, output
    assert match["to"] == to.format(port=port)
    assert match["zone"] == zone
    assert match["name"].endswith(zone if zone != "." else ".")


def test_an_upstream_that_ignores_hinfo_is_logged_not_fatal() -> None:
    with FakeUpstream() as up:
        up.blackhole = True
        text = f""".:{{port}} {{
    errors
    loop
    forward . 127.0.0.1:{up.port} {{
        read_timeout 300ms
    }}
}}
alive.test:{{port}} {{
    whoami
}}
"""
        with children.serve(text) as srv:
            line = srv.proc.wait_for_line("(loop detection probe)", timeout=5)
            assert re.fullmatch(
                r"\[ERROR\] plugin/errors: 2 \d+\.\d+\. HINFO: read udp \S+->127\.0\.0\.1:"
                rf"{up.port}: i/o timeout \(loop detection probe\)",
                line,
            ), line
            time.sleep(0.5)
            assert srv.proc.proc.poll() is None, "still running"
            assert children.rcode(children.query(srv.port, "x.alive.test")) == "NOERROR"
            assert "FATAL" not in srv.proc.output
        probes = [q for q in up.queries if q.qtype == "HINFO"]
        assert probes and re.fullmatch(r"\d+\.\d+\.", probes[0].name)


def test_a_healthy_upstream_sees_the_probe_once_and_nothing_happens() -> None:
    with FakeUpstream() as up:
        text = f".:{{port}} {{\n    loop\n    forward . 127.0.0.1:{up.port}\n}}\n"
        with children.serve(text) as srv:
            up.wait_for(lambda: any(q.qtype == "HINFO" for q in up.queries))
            time.sleep(0.3)
            assert srv.proc.proc.poll() is None
            # Probing is over once answered (and 2 s later the plugin only passes queries on).
            assert children.rcode(children.query(srv.port, "after.example", "HINFO")) == "NOERROR"
        assert [q.qtype for q in up.queries].count("HINFO") == 2
        assert "FATAL" not in srv.proc.output


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("loop now", "Wrong argument count or unexpected line ending after 'now'"),
        ("loop\n loop", "can only be used once per server block"),
        ("loop {\n}", "takes no block"),
    ],
)
def test_setup_errors(body: str, reason: str) -> None:
    with pytest.raises(CorefileError, match=re.escape(reason)):
        config.load(corefile.parse(f". {{\n {body}\n}}\n"))

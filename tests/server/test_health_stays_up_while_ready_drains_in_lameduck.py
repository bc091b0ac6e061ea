"""health and ready over HTTP, and USER-NEEDS #32: lameduck as CoreDNS does it.

On SIGTERM, ``/ready`` fails at once so the pod leaves the Service endpoints, ``/health`` stays
200 so the kubelet does not restart it meanwhile (CoreDNS #4084), and DNS over UDP and TCP keeps
answering for the whole lameduck duration; then kdns exits 0.
"""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import dns.rcode
import pytest

from tests.support import clients, kdnsproc

LAMEDUCK = 2.0


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def corefile(health: int, ready: int, *, lameduck: str | None = None) -> str:
    health_line = f"health 127.0.0.1:{health}"
    if lameduck:
        health_line += f" {{\n        lameduck {lameduck}\n    }}"
    return f"""\
example.test {{
    {health_line}
    ready 127.0.0.1:{ready}
    whoami
}}
"""


@pytest.fixture(scope="module")
def endpoints() -> Iterator[tuple[kdnsproc.Server, int, int]]:
    health = kdnsproc.free_port()
    ready = clients.second_port(health)
    with clients.serve(corefile(health, ready)) as srv:
        yield srv, health, ready


def test_health_says_ok(endpoints: tuple[kdnsproc.Server, int, int]) -> None:
    _, health, _ = endpoints
    assert http_get(health, "/health") == (200, "OK")


def test_ready_says_ok_when_nothing_reports_readiness(
    endpoints: tuple[kdnsproc.Server, int, int],
) -> None:
    _, _, ready = endpoints
    assert http_get(ready, "/ready") == (200, "OK")


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [("health", "/ready"), ("ready", "/health"), ("health", "/"), ("ready", "/")],
)
def test_each_endpoint_serves_only_its_own_path(
    endpoints: tuple[kdnsproc.Server, int, int], endpoint: str, path: str
) -> None:
    _, health, ready = endpoints
    assert http_get(health if endpoint == "health" else ready, path)[0] == 404


def test_lameduck_fails_ready_at_once_keeps_health_and_dns_then_exits_0() -> None:
    health = kdnsproc.free_port()
    ready = clients.second_port(health)
    with clients.serve(corefile(health, ready, lameduck="2s")) as srv:
        assert http_get(ready, "/ready")[0] == 200
        srv.proc.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()

        # "At once": within a few event-loop turns of the signal, far inside the window (a
        # probe sent the same microsecond may still be served first, as with any server).
        statuses = []
        while time.monotonic() - sent < 0.3:
            statuses.append(http_get(ready, "/ready")[0])
            if statuses[-1] == 503:
                break
        assert statuses[-1] == 503, f"ready still {statuses} 0.3s after SIGTERM"

        answered = asked = 0
        health_codes = set()
        # Until just before the window ends (minus a margin for a slow probe).
        while time.monotonic() - sent < LAMEDUCK - 0.3:
            for tcp in (False, True):
                asked += 1
                reply = srv.query(f"n{asked}.example.test.", "A", tcp=tcp, timeout=1.0)
                if reply.rcode() == dns.rcode.NOERROR:
                    answered += 1
            health_codes.add(http_get(health, "/health"))
            assert http_get(ready, "/ready")[0] == 503
            time.sleep(0.1)
        assert asked >= 10, "the window was probed often"
        assert answered == asked, "DNS keeps answering through lameduck"
        assert health_codes == {(200, "OK")}, "health stays 200 through lameduck"

        code = srv.proc.proc.wait(timeout=LAMEDUCK + 3)
        ended = time.monotonic() - sent
        assert code == 0, srv.proc.output
        assert ended >= LAMEDUCK - 0.2, f"exited after {ended:.2f}s, before lameduck ended"
        assert ended <= LAMEDUCK + 2.0, f"exited after {ended:.2f}s"
        srv.proc.wait_for_line("[INFO] plugin/health: Going into lameduck mode for 2s")


def test_without_lameduck_sigterm_exits_promptly() -> None:
    health = kdnsproc.free_port()
    ready = clients.second_port(health)
    with clients.serve(corefile(health, ready)) as srv:
        sent = time.monotonic()
        assert srv.proc.stop(signal.SIGTERM) == 0
        assert time.monotonic() - sent < 1.5
        assert "lameduck" not in srv.proc.output

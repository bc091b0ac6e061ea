"""USER-NEEDS 13 end to end: a kdns with cache + forward in front of a second kdns (hosts).

Prime both front servers, kill the upstream, let the entries expire: ``immediate`` answers
stale at once, ``verify`` after a bounded wait, both with TTL 0, and
``coredns_cache_served_stale_total`` counts them.
"""

from __future__ import annotations

import time
import urllib.request

import dns.rcode

from tests.support import clients, kdnsproc

UPSTREAM = """\
example.org {
    hosts hosts {
        reload 0
    }
}
"""

FRONT = """\
example.org {{
    prometheus 127.0.0.1:{metrics}
    cache {{
        success 9984 1 0
        serve_stale 1h {mode}
    }}
    forward . 127.0.0.1:{upstream}
}}
"""


def served_stale(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("coredns_cache_served_stale_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_stale_answers_when_the_upstream_is_gone() -> None:
    with clients.serve(UPSTREAM, files={"hosts": "192.0.2.10 web.example.org\n"}) as upstream:
        ports = {mode: kdnsproc.free_port() for mode in ("immediate", "verify")}
        fronts = {
            mode: FRONT.format(metrics=port, mode=mode, upstream=upstream.port)
            for mode, port in ports.items()
        }
        with (
            clients.serve(fronts["immediate"]) as immediate,
            clients.serve(fronts["verify"]) as verify,
        ):
            for front in (immediate, verify):
                reply = front.query("web.example.org.", "A")
                assert [rd.to_text() for rd in reply.answer[0]] == ["192.0.2.10"]
                assert reply.answer[0].ttl == 1  # capped by `success 9984 1`
            upstream.proc.stop()
            time.sleep(1.1)  # the entries expire

            started = time.monotonic()
            stale = immediate.query("web.example.org.", "A")
            assert time.monotonic() - started < 0.5  # answered without waiting for upstream
            assert stale.rcode() == dns.rcode.NOERROR
            assert [rd.to_text() for rd in stale.answer[0]] == ["192.0.2.10"]
            assert stale.answer[0].ttl == 0

            started = time.monotonic()
            checked = verify.query("web.example.org.", "A", timeout=5.0)
            assert time.monotonic() - started < 2.5  # at most the 1.8 s verify bound
            assert [rd.to_text() for rd in checked.answer[0]] == ["192.0.2.10"]
            assert checked.answer[0].ttl == 0

            assert served_stale(ports["immediate"]) >= 1
            assert served_stale(ports["verify"]) >= 1

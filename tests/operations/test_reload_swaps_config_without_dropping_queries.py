"""reload: a changed Corefile is swapped in with no failed query; a broken one keeps the old.

USER-NEEDS #31: ConfigMap-style ``..data`` symlink swaps, a bounded query loop running
throughout, the reload-failed counter, and /metrics staying up.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from tests.support import clients, kdnsproc

CONFIG = """\
.:{port} {{
    bind 127.0.0.1
    reload 2s 1s
    prometheus 127.0.0.1:{metrics}
    chaos {version}
    whoami
}}
"""


def version(port: int) -> str:
    q = dns.message.make_query("version.bind.", "TXT", "CH")
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1)
    return r.answer[0][0].strings[0].decode()


class QueryLoop:
    """Queries at about 200 qps on its own thread until stopped; counts failures."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            q = dns.message.make_query("whoami.test.", "A")
            try:
                r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=1)
                if r.rcode() != dns.rcode.NOERROR:
                    self.failed.append(dns.rcode.to_text(r.rcode()))
            except Exception as err:
                self.failed.append(repr(err))
            self.sent += 1
            time.sleep(0.005)

    def __enter__(self) -> QueryLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def swap(data_dir: Path, text: str, generation: int) -> None:
    """Replace the file as kubelet updates a ConfigMap volume: a new dir, then ``..data`` flips."""
    target = data_dir / f"..gen{generation}"
    target.mkdir()
    (target / "Corefile").write_text(text)
    tmp = data_dir / "..data_tmp"
    tmp.symlink_to(target.name)
    os.replace(tmp, data_dir / "..data")


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return resp.read().decode()


def test_reload_under_load_changed_broken_identical(tmp_path: Path) -> None:
    port = kdnsproc.free_port()
    metrics_port = kdnsproc.free_port()
    data = tmp_path / "config"
    data.mkdir()
    swap(data, CONFIG.format(port=port, metrics=metrics_port, version="v1"), 1)
    (data / "Corefile").symlink_to("..data/Corefile")
    proc = kdnsproc.KdnsProcess(["-conf", str(data / "Corefile")], env=clients.child_env())
    try:
        kdnsproc.wait_serving("127.0.0.1", port, proc)
        assert version(port) == "v1"
        with QueryLoop(port) as loop:
            swap(data, CONFIG.format(port=port, metrics=metrics_port, version="v2"), 2)
            assert wait_for(lambda: version(port) == "v2"), proc.output
            # Same content behind a new symlink: no reload.
            reloads = proc.output.count("Reloading complete")
            swap(data, CONFIG.format(port=port, metrics=metrics_port, version="v2"), 3)
            time.sleep(4)
            assert proc.output.count("Reloading complete") == reloads
            # A broken Corefile: old answers stay, the failure is counted.
            swap(data, "garbage {\n", 4)
            assert wait_for(lambda: "Restart failed" in proc.output), proc.output
            assert version(port) == "v2"
            assert "coredns_reload_failed_total 1.0" in scrape(metrics_port)
            # SIGUSR1 reloads at once.
            swap(data, CONFIG.format(port=port, metrics=metrics_port, version="v3"), 5)
            proc.proc.send_signal(signal.SIGUSR1)
            assert wait_for(lambda: version(port) == "v3", timeout=3), proc.output
        assert loop.sent > 100
        assert loop.failed == []
        # Series survive reloads: the counter is still there after the last swap.
        assert "coredns_reload_failed_total 1.0" in scrape(metrics_port)
    finally:
        assert proc.stop() == 0


def test_the_failure_counter_is_exported_at_zero_from_start() -> None:
    """CoreDNS registers coredns_reload_failed_total with the reload plugin: 0 before any failure."""
    for reload, exported in (("    reload 2s 1s\n", True), ("", False)):
        metrics_port = kdnsproc.free_port()
        corefile = (
            ".:{port} {\n    bind 127.0.0.1\n"
            + reload
            + f"    prometheus 127.0.0.1:{metrics_port}\n    whoami\n}}\n"
        )
        with clients.serve(corefile) as srv:
            srv.query("whoami.test.", "A")
            text = scrape(metrics_port)
        assert ("coredns_reload_failed_total 0.0" in text) is exported, text

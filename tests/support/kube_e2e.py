"""End-to-end plumbing: the fake API server on a thread of its own, a kdns process watching it,
and ``dig`` as the client.

The fake API server is an asyncio application; kdns is a child process. The server runs its own
event loop on a thread, so that tests can be plain functions that block (on ``dig``, on a kdns
that waits for its first sync) while the API server keeps answering. Every call into the fake
goes through :meth:`ThreadedAPI.call`, on the server's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.support import apiserver as fa
from tests.support import kdnsproc

R = TypeVar("R")


class ThreadedAPI:
    """A :class:`FakeAPIServer` on a background event loop, on a port chosen up front (so a
    kubeconfig can name it before it starts, and a restart keeps it)."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-api", daemon=True)
        self._thread.start()
        self.api: fa.FakeAPIServer = self.call(lambda: fa.FakeAPIServer(**kwargs))
        self.api.port = kdnsproc.free_port()

    def call(self, fn: Callable[[], R], timeout: float = 10.0) -> R:
        """Run ``fn()`` on the server's loop and return its result."""
        future: concurrent.futures.Future[R] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as err:  # handed to the caller's thread
                future.set_exception(err)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.run(self.api.start())

    def stop(self) -> None:
        self.run(self.api.stop())

    def create(self, obj: fa.Obj) -> fa.Obj:
        return self.call(lambda: self.api.create(obj))

    def apply(self, obj: fa.Obj) -> fa.Obj:
        return self.call(lambda: self.api.apply(obj))

    def delete(self, obj: fa.Obj) -> fa.Obj:
        return self.call(lambda: self.api.delete(obj))

    def compact(self) -> None:
        self.call(self.api.compact)

    def drop_watches(self) -> None:
        self.call(self.api.drop_watches)

    def list_requests(self, plural: str | None = None) -> int:
        return self.call(lambda: len(self.api.list_requests(plural)))

    def open_watches(self) -> int:
        return self.call(lambda: self.api.open_watches)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@contextlib.contextmanager
def api_server(**kwargs: Any) -> Iterator[ThreadedAPI]:
    api = ThreadedAPI(**kwargs)
    try:
        yield api
    finally:
        api.close()


COREFILE = """\
.:{port} {
    bind 127.0.0.1 ::1
    errors
    health 127.0.0.1:HEALTH
    ready 127.0.0.1:READY
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig KUBECONFIG
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
        startup_timeout STARTUP
    }
}
example.org:{port} {
    bind 127.0.0.1 ::1
    records example.org.yaml
}
"""

EXAMPLE_ORG = """\
zone: example.org
ttl: 300
records:
  www: {A: 192.0.2.10, AAAA: "2001:db8::10"}
"""


@dataclasses.dataclass
class Kdns:
    server: kdnsproc.Server
    ready_port: int
    health_port: int

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def output(self) -> str:
        return self.server.proc.output

    def http(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def ready(self) -> tuple[int, str]:
        return self.http(self.ready_port, "/ready")

    def health(self) -> tuple[int, str]:
        return self.http(self.health_port, "/health")

    def dig(self, *args: str, host: str = "127.0.0.1") -> Dig:
        return dig(host, self.port, *args)


@contextlib.contextmanager
def kdns(
    api: ThreadedAPI, tmp: Path, *, startup: str = "1s", corefile: str = COREFILE
) -> Iterator[Kdns]:
    kubeconfig = api.call(lambda: api.api.write_kubeconfig(tmp / "kubeconfig.yaml"))
    ready, health = kdnsproc.free_port(), kdnsproc.free_port()
    text = (
        corefile.replace("KUBECONFIG", str(kubeconfig))
        .replace("READY", str(ready))
        .replace("HEALTH", str(health))
        .replace("STARTUP", startup)
    )
    with kdnsproc.serve(text, files={"example.org.yaml": EXAMPLE_ORG}) as server:
        yield Kdns(server, ready, health)


# --- dig -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Dig:
    status: str
    flags: set[str]
    answer: list[str]
    authority: list[str]
    additional: list[str]
    size: int
    text: str

    def rdata(self, rtype: str | None = None) -> list[str]:
        """The RDATA of the answer records (of ``rtype``), sorted."""
        out = []
        for line in self.answer:
            fields = line.split(None, 4)
            if rtype is None or fields[3] == rtype:
                out.append(fields[4])
        return sorted(out)


def dig(host: str, port: int, *args: str, timeout: float = 5.0) -> Dig:
    cmd = [
        "dig",
        f"@{host}",
        "-p",
        str(port),
        "+tries=1",
        "+time=2",
        "+nocookie",
        "+noall",
        "+comments",
        "+answer",
        "+authority",
        "+additional",
        "+stats",
        "+nottlunits",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False).stdout
    status, flags, size = "", set(), 0
    sections: dict[str, list[str]] = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
    current: list[str] | None = None
    for line in out.splitlines():
        if "->>HEADER<<-" in line:
            status = line.split("status: ")[1].split(",")[0]
        elif line.startswith(";; flags:"):
            flags = set(line.split(";")[2].split(":")[1].split())
        elif line.startswith(";; MSG SIZE"):
            size = int(line.split("rcvd: ")[1])
        elif line.startswith(";; ") and line.rstrip().endswith("SECTION:"):
            current = sections.get(line[3:].split()[0])
        elif line.strip() and not line.startswith(";") and current is not None:
            current.append(" ".join(line.split()))
        elif not line.strip():
            current = None
    return Dig(
        status, flags, sections["ANSWER"], sections["AUTHORITY"], sections["ADDITIONAL"], size, out
    )


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.005) -> float:
    """Seconds until ``check()`` is true; raises AssertionError after ``timeout``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true within {timeout}s")
        time.sleep(interval)

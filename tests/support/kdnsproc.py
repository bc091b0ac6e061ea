"""Run a real kdns process for end-to-end tests, on free loopback ports."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for UDP and TCP on ``host``, and for TCP on the wildcard addresses too (a
    block without ``bind`` listens on every address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            if all(_tcp_free(f, h, port) for f, h in ((family, host), *_WILDCARDS)):
                return port
    raise RuntimeError("no free port")


_WILDCARDS = ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::"))


def _tcp_free(family: socket.AddressFamily, host: str, port: int) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as t:
            if family == socket.AF_INET6:
                t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            t.bind((host, port))
    except OSError as err:
        # No IPv6 on this machine is no conflict; a port in use is.
        return err.errno != errno.EADDRINUSE
    return True


class KdnsProcess:
    """A kdns child process; its stdout (CoreDNS-style log) is collected in ``output``."""

    def __init__(
        self,
        args: list[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.args = args
        self.lines: list[str] = []
        full_env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kdns", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec_fn,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None and text not in self.output:
                time.sleep(0.1)
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not seen in kdns output:\n{self.output}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(2)
        return self.proc.returncode


class Server:
    """A running kdns serving a Corefile on ``port`` of 127.0.0.1."""

    def __init__(
        self, proc: KdnsProcess, port: int, host: str = "127.0.0.1", workdir: Path | None = None
    ) -> None:
        self.proc = proc
        self.port = port
        self.host = host
        #: Where the Corefile and ``files`` were written (kdns's working directory).
        self.workdir = workdir

    def query(
        self,
        name: str,
        rdtype: str | int = "A",
        *,
        tcp: bool = False,
        rdclass: str = "IN",
        use_edns: int | bool = False,
        payload: int = 1232,
        timeout: float = 3.0,
    ) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype, rdclass, use_edns=use_edns, payload=payload)
        if tcp:
            return dns.query.tcp(q, self.host, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.host, port=self.port, timeout=timeout, ignore_trailing=True)


def wait_serving(host: str, port: int, proc: KdnsProcess, timeout: float = 15.0) -> None:
    """Until kdns answers something (any rcode) on UDP ``host:port``."""
    deadline = time.monotonic() + timeout
    q = dns.message.make_query("kdns-probe.invalid.", "A")
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise AssertionError(f"kdns exited with {proc.proc.returncode}:\n{proc.output}")
        with contextlib.suppress(Exception):
            dns.query.udp(q, host, port=port, timeout=0.2)
            return
        time.sleep(0.05)
    raise AssertionError(f"kdns did not start serving:\n{proc.output}")


#: Ports tried before a start that fails with "address already in use" counts as a failure.
PORT_ATTEMPTS = 3


@contextlib.contextmanager
def serve(
    corefile: str,
    *,
    files: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Server]:
    """Start kdns on ``corefile`` (``{port}`` is replaced by a free port), yield, stop it.

    ``preexec_fn`` runs in the child before kdns starts (a lower ``RLIMIT_NOFILE``, say).
    """
    with tempfile.TemporaryDirectory(prefix="kdns-test-") as tmp:
        for name, text in (files or {}).items():
            Path(tmp, name).write_text(text)
        path = Path(tmp, "Corefile")
        for attempt in range(PORT_ATTEMPTS):
            # A port found free can be taken before kdns binds it (an outgoing connection's
            # ephemeral port, say): then another port is tried, never a wrong test result.
            port = free_port(host)
            path.write_text(corefile.replace("{port}", str(port)))
            proc = KdnsProcess(
                ["-conf", str(path), "-dns.port", str(port), *(extra_args or [])],
                cwd=tmp,
                env=env,
                preexec_fn=preexec_fn,
            )
            try:
                wait_serving(host, port, proc)
            except AssertionError:
                proc.stop()
                if "address already in use" in proc.output and attempt + 1 < PORT_ATTEMPTS:
                    continue
                raise
            break
        try:
            yield Server(proc, port, host, Path(tmp))
        finally:
            proc.stop()

"""Client-side tools shared by the end-to-end tests: raw UDP/TCP exchanges, dig, kdns runs.

The tests talk to a real ``python -m kdns`` started by ``tests.support.kdnsproc``. The child gets the
repository on its PYTHONPATH, so the suite runs from a checkout whether or not kdns is installed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rdataclass
import dns.rdatatype

from tests.support import kdnsproc

REPO = Path(__file__).resolve().parents[2]
LOCALHOST = "127.0.0.1"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment additions for a kdns child: this checkout first on its import path."""
    paths = [str(REPO)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    env.update(extra or {})
    return env


@contextlib.contextmanager
def serve(
    corefile: str,
    *,
    files: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    host: str = LOCALHOST,
) -> Iterator[kdnsproc.Server]:
    """``kdnsproc.serve`` with this checkout importable in the child."""
    with kdnsproc.serve(
        corefile, files=files, extra_args=extra_args, env=child_env(), host=host
    ) as server:
        yield server


def run_kdns(
    args: list[str], *, cwd: str | Path, timeout: float = 20.0, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kdns ARGS`` to completion (``input`` on its standard input), stdout and
    stderr kept apart."""
    return subprocess.run(
        [sys.executable, "-m", "kdns", *args],
        input=input,
        cwd=cwd,
        env=dict(os.environ, **child_env()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make_query(
    name: str,
    rdtype: str | int = "A",
    rdclass: str | int = "IN",
    *,
    qid: int | None = None,
    use_edns: int | bool | None = False,
    payload: int = 1232,
    want_dnssec: bool = False,
) -> dns.message.Message:
    q = dns.message.make_query(
        name,
        dns.rdatatype.RdataType.make(rdtype),
        dns.rdataclass.RdataClass.make(rdclass),
        use_edns=use_edns,
        payload=payload,
        want_dnssec=want_dnssec,
    )
    if qid is not None:
        q.id = qid
    return q


def udp_exchange(
    data: bytes,
    port: int,
    *,
    host: str = LOCALHOST,
    timeout: float = 2.0,
) -> bytes | None:
    """Send one datagram; the reply, or None if nothing came back within ``timeout``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, (host, port))
        try:
            reply, _ = sock.recvfrom(65535)
        except TimeoutError:
            return None
        return reply


def frame(message: bytes) -> bytes:
    """RFC 1035 4.2.2 TCP framing: a two-byte big-endian length, then the message."""
    return struct.pack("!H", len(message)) + message


def tcp_connect(port: int, *, host: str = LOCALHOST, timeout: float = 3.0) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_frames(sock: socket.socket, count: int, *, timeout: float = 5.0) -> list[bytes]:
    """Read ``count`` framed messages; fewer if the peer closes or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    out: list[bytes] = []
    while len(out) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            (length,) = struct.unpack_from("!H", buf)
            if len(buf) < 2 + length:
                break
            out.append(bytes(buf[2 : 2 + length]))
            del buf[: 2 + length]
    return out


def tcp_exchange(data: bytes, port: int, *, host: str = LOCALHOST, timeout: float = 3.0) -> bytes:
    with tcp_connect(port, host=host, timeout=timeout) as sock:
        sock.sendall(frame(data))
        replies = read_frames(sock, 1, timeout=timeout)
    assert len(replies) == 1, "no TCP reply"
    return replies[0]


def exchange(data: bytes, port: int, *, proto: str, host: str = LOCALHOST) -> bytes | None:
    """One query over ``proto`` ("udp" or "tcp")."""
    if proto == "tcp":
        return tcp_exchange(data, port, host=host)
    return udp_exchange(data, port, host=host)


def ask(
    message: dns.message.Message, port: int, *, proto: str, host: str = LOCALHOST
) -> dns.message.Message:
    """Send a dnspython query over ``proto`` and parse the reply strictly (no trailing junk)."""
    reply = exchange(message.to_wire(), port, proto=proto, host=host)
    assert reply is not None, f"no {proto} reply to {message.question}"
    parsed = dns.message.from_wire(reply)
    assert parsed.id == message.id
    return parsed


def run_dig(
    dig: str, port: int, *args: str, host: str = LOCALHOST, timeout: float = 15.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dig, f"@{host}", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def second_port(*taken: int) -> int:
    """A free port that differs from ``taken``."""
    for _ in range(20):
        port = kdnsproc.free_port()
        if port not in taken:
            return port
    raise RuntimeError("no second free port")

"""What the forward and loop tests share: a kdns child that imports this checkout, clients."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from tests.support import kdnsproc

REPO = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"


def child_env() -> dict[str, str]:
    """This checkout first on the child's import path, installed or not."""
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


#: kdnsproc waits for an answer to ``kdns-probe.invalid.``; this block gives it one without
#: going upstream, where a blackhole upstream would hold it up and its timeouts would start the
#: health checks the test is about.
PROBE_BLOCK = "invalid:{port} {\n    whoami\n}\n"


@contextlib.contextmanager
def serve(
    corefile: str,
    *,
    files: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[kdnsproc.Server]:
    """A kdns child serving ``corefile`` (``{port}`` is its own port) on 127.0.0.1."""
    with kdnsproc.serve(
        corefile + PROBE_BLOCK, files=files, env=child_env(), preexec_fn=preexec_fn
    ) as server:
        yield server


def query(
    port: int,
    name: str,
    rdtype: str = "A",
    *,
    tcp: bool = False,
    edns: bool = False,
    payload: int = 1232,
    dnssec: bool = False,
    timeout: float = 7.0,
) -> dns.message.Message:
    q = dns.message.make_query(
        name, rdtype, use_edns=0 if edns or dnssec else False, payload=payload, want_dnssec=dnssec
    )
    if tcp:
        return dns.query.tcp(q, HOST, port=port, timeout=timeout)
    return dns.query.udp(q, HOST, port=port, timeout=timeout, ignore_trailing=True)


def timed_query(
    port: int, name: str, rdtype: str = "A", **kw: object
) -> tuple[dns.message.Message, float]:
    start = time.monotonic()
    reply = query(port, name, rdtype, **kw)  # type: ignore[arg-type]
    return reply, time.monotonic() - start


def rcode(reply: dns.message.Message) -> str:
    return dns.rcode.to_text(reply.rcode())


def dig(port: int, *args: str) -> str:
    """dig's output for a query to kdns; +time=7 outlasts forward's 5 s deadline."""
    out = subprocess.run(
        ["dig", f"@{HOST}", "-p", str(port), "+time=7", "+tries=1", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return out.stdout


def addresses(reply: dns.message.Message) -> list[str]:
    return [rd.to_text() for rrset in reply.answer for rd in rrset]


def udp_raw(port: int, message: dns.message.Message, timeout: float = 7.0) -> bytes:
    """The reply's bytes exactly as kdns sent them."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(message.to_wire(), (HOST, port))
        return sock.recv(65535)

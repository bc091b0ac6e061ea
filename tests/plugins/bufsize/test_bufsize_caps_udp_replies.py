"""bufsize: the request's EDNS buffer is capped, UDP replies are cut at the cap with TC, TCP is
untouched; ``bufsize 4096`` lifts kdns's default 1,232-byte UDP cap for its block."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from tests.support import clients, kdnsproc

COUNT = 200  # A records: about 3.3 KB, over 1232 and under 4096
MANY = "{A: [" + ", ".join(f"10.9.{n // 250}.{n % 250 + 1}" for n in range(COUNT)) + "]}"
ZONE = "zone: cap.test\nrecords:\n" + "".join(
    f"  {name}: {MANY}\n" for name in ("many", "many.small", "many.big")
)
COREFILE = """\
small.cap.test {
    bufsize 512
    records cap.yaml
}
big.cap.test {
    bufsize 4096
    records cap.yaml
}
cap.test {
    records cap.yaml
}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE, files={"cap.yaml": ZONE}) as srv:
        yield srv


def ask(
    server: kdnsproc.Server, name: str, *, proto: str = "udp", payload: int = 4096
) -> tuple[int, dns.message.Message]:
    query = clients.make_query(name, "A", use_edns=0, payload=payload)
    raw = clients.exchange(query.to_wire(), server.port, proto=proto)
    assert raw is not None
    return len(raw), dns.message.from_wire(raw)


def count(reply: dns.message.Message) -> int:
    return sum(len(rrset) for rrset in reply.answer)


def test_dig_sees_bufsize_512_truncate_with_tc(server: kdnsproc.Server, dig: str) -> None:
    result = clients.run_dig(
        dig, server.port, "+ignore", "+bufsize=4096", "many.small.cap.test", "A"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    flags = re.search(r"^;; flags: ([a-z ]+);", result.stdout, re.M)
    assert flags and "tc" in flags.group(1).split(), result.stdout
    size = re.search(r"MSG SIZE\s+rcvd: (\d+)", result.stdout)
    assert size and int(size.group(1)) <= 512, result.stdout
    assert "udp: 1232" in result.stdout


def test_bufsize_512_cuts_udp_and_leaves_tcp_whole(server: kdnsproc.Server) -> None:
    size, reply = ask(server, "many.small.cap.test.")
    assert size <= 512 and reply.flags & dns.flags.TC
    assert 0 < count(reply) < COUNT
    _, reply = ask(server, "many.small.cap.test.", proto="tcp")
    assert not reply.flags & dns.flags.TC and count(reply) == COUNT


def test_a_smaller_client_buffer_is_left_alone(server: kdnsproc.Server) -> None:
    size, reply = ask(server, "many.big.cap.test.", payload=700)
    assert 512 < size <= 700 and reply.flags & dns.flags.TC


def test_bufsize_4096_lifts_the_default_cap(server: kdnsproc.Server) -> None:
    size, reply = ask(server, "many.big.cap.test.")
    assert 1232 < size <= 4096 and not reply.flags & dns.flags.TC
    assert count(reply) == COUNT
    size, reply = ask(server, "many.cap.test.")
    assert size <= 1232 and reply.flags & dns.flags.TC, "the default cap holds elsewhere"


def load(tmp_path: Path, text: str) -> config.Loaded:
    path = tmp_path / "Corefile"
    path.write_text(text)
    return config.load(corefile.parse(text, filename=str(path)))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("bufsize 511", "bufsize must be an integer from 512 to 4096: '511'"),
        ("bufsize 5000", "from 512 to 4096: '5000'"),
        ("bufsize abc123", "from 512 to 4096: 'abc123'"),
        ("bufsize -1", "from 512 to 4096: '-1'"),
        ("bufsize 512 512", "Wrong argument count"),
        ("bufsize 512\n    bufsize 1024", "can only be used once per server block"),
    ],
)
def test_bad_values_stop_startup_at_their_line(tmp_path: Path, line: str, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        load(tmp_path, f". {{\n    {line}\n    whoami\n}}\n")
    lineno = 3 if "\n" in line else 2
    assert f"{tmp_path / 'Corefile'}:{lineno} - Error during parsing: " in str(err.value)
    assert reason in str(err.value)


def test_default_size_is_1232(tmp_path: Path) -> None:
    (server,) = load(tmp_path, ". {\n    bufsize\n    whoami\n}\n").servers
    assert server.handler.size == 1232  # type: ignore[attr-defined]

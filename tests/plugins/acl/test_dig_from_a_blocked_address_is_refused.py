"""End to end with dig: the source address dig binds (``-b``) decides what kdns answers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.support import kdnsproc

COREFILE = """\
.:{port} {
    bind 127.0.0.1
    acl {
        block net 127.0.0.2/32
        filter type AAAA net 127.0.0.3
        drop net 127.0.0.4
    }
    whoami
}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with kdnsproc.serve(COREFILE, extra_args=["-quiet"]) as srv:
        yield srv


def run_dig(path: str, server: kdnsproc.Server, source: str, *args: str) -> str:
    result = subprocess.run(
        [path, "@127.0.0.1", "-p", str(server.port), "-b", source, "+tries=1", "+time=2", *args],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    return result.stdout


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_a_blocked_source_is_refused_and_loopback_is_answered(
    server: kdnsproc.Server, dig: str, transport: str
) -> None:
    blocked = _dig(dig, server, "127.0.0.2", transport)
    assert "status: REFUSED" in blocked, blocked
    dig_out = _dig(dig, server, "127.0.0.1", transport)
    assert "status: NOERROR" in dig_out, dig_out
    assert "whoami.test." in dig_out and "127.0.0.1" in dig_out, dig_out


def test_filter_answers_nodata_for_the_filtered_type_only(
    server: kdnsproc.Server, dig: str
) -> None:
    out = _dig(dig, server, "127.0.0.3", "AAAA")
    assert (
        "status: NOERROR" in out and "ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1" in out
    )  # the OPT only, out
    out = _dig(dig, server, "127.0.0.3", "A")
    assert "status: NOERROR" in out and "127.0.0.3" in out, out


def test_drop_sends_no_reply(server: kdnsproc.Server, dig: str) -> None:
    out = _dig(dig, server, "127.0.0.4", "+time=1")
    assert "status:" not in out, out
    assert "timed out" in out or "no servers could be reached" in out, out


def _dig(path: str, server: kdnsproc.Server, source: str, *args: str) -> str:
    return run_dig(path, server, source, "whoami.test", *args)

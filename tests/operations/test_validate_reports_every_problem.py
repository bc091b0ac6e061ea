"""``kdns -validate``: every problem of a Corefile in one run, with file and line, and nothing
served or contacted."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support import clients

BROKEN = """\
. {
    errors
    dnstap /tmp/dnstap.sock full
    nope
    forward . 127.0.0.1 {
        bogus
    }
    cache 30
}
example.org {
    erratic
    whoami
}
"""


def test_every_problem_is_printed_once_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(BROKEN)
    done = clients.run_kdns(["-validate", "-conf", "Corefile"], cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines == [
        "Corefile:3 - Error during parsing: Unknown directive 'dnstap' "
        "(a CoreDNS plugin kdns does not implement)",
        "Corefile:4 - Error during parsing: Unknown directive 'nope'",
        "plugin/forward: Corefile:6 - Error during parsing: unknown property 'bogus'",
        "Corefile:11 - Error during parsing: Unknown directive 'erratic' "
        "(a CoreDNS plugin kdns does not implement)",
    ]
    assert "Traceback" not in done.stderr + done.stdout


def test_a_good_corefile_passes_without_binding_or_contacting_anything(tmp_path: Path) -> None:
    # The port is held by this test and the API server address refuses connections: a check
    # that opened listeners or connected would fail or hang.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        (tmp_path / "Corefile").write_text(
            f".:{port} {{\n    bind 127.0.0.1\n    health 127.0.0.1:{port}\n"
            "    kubernetes cluster.local {\n        endpoint http://127.0.0.1:9\n    }\n"
            "    forward . 127.0.0.1:9\n}\n"
        )
        done = clients.run_kdns(["-validate", "-conf", "Corefile"], cwd=tmp_path, timeout=15)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Corefile: OK\n"


def test_a_syntax_error_is_the_one_problem(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(". {\n    whoami\n")
    done = clients.run_kdns(["-validate", "-conf", "Corefile"], cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("Corefile:")

"""The ``kdns`` command as operators script it: CoreDNS's flags, messages and exit codes.

Go's flag package sets the conventions: an unknown flag prints the usage on stderr and exits 2.
A configuration that cannot load exits 1 with CoreDNS's ``FILE:LINE - Error during parsing:``
line naming the real file. A running server prints one line per zone and listener (unless
``-quiet``) and exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import dns.rcode
import pytest

import kdns
from kdns import plugins
from tests.support import clients, kdnsproc

FLAGS = ("-conf", "-dns.port", "-plugins", "-quiet", "-version")


# --- flags that do not serve -----------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    result = clients.run_kdns(["-version"], cwd=tmp_path)
    assert result.returncode == 0
    first, second = result.stdout.splitlines()[:2]
    assert first == f"kdns-{kdns.__version__}"
    assert second.startswith(f"{sys.platform}/")
    assert result.stderr == ""


def test_plugins_are_listed_in_chain_order(tmp_path: Path) -> None:
    result = clients.run_kdns(["-plugins"], cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("Server types:\n  dns\n\nOther plugins:\n")
    listed = [
        line.strip().removeprefix("dns.")
        for line in result.stdout.split("plugins:\n")[1].splitlines()
    ]
    assert {"bind", "chaos", "errors", "health", "log", "ready", "records", "whoami"} <= set(listed)
    # plugin.cfg's order, not alphabetical: bind runs before errors, log before whoami.
    assert listed == sorted(listed, key=plugins.ORDER.index)
    assert listed.index("log") < listed.index("whoami")


@pytest.mark.parametrize("flag", ["--help", "-help", "-h"])
def test_help_prints_the_usage_and_exits_0(tmp_path: Path, flag: str) -> None:
    result = clients.run_kdns([flag], cwd=tmp_path)
    assert result.returncode == 0
    usage = result.stdout + result.stderr
    assert usage.startswith("Usage of kdns:")
    for name in FLAGS:
        assert f"  {name}" in usage
    # The subcommand is listed with how to get its own usage.
    assert "\nSubcommands:\n  migrate-kube-dns " in usage
    assert "kdns migrate-kube-dns -help" in usage


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-bogus"], "flag provided but not defined: -bogus"),
        (["--no-such-flag=1"], "flag provided but not defined: -no-such-flag"),
        (["-dns.port", "http"], 'invalid value "http" for flag -dns.port'),
        (["-dns.port=70000"], 'invalid value "70000" for flag -dns.port'),
        (["-conf"], "flag needs an argument: -conf"),
        (["-quiet=maybe"], 'invalid boolean value "maybe" for -quiet'),
        (["stray"], "stray"),
    ],
)
def test_a_bad_flag_prints_the_usage_on_stderr_and_exits_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = clients.run_kdns(args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[0].endswith(message) or message in result.stderr
    assert "Usage of kdns:" in result.stderr


# --- configurations that do not load ---------------------------------------------------------


def test_a_missing_conf_file_exits_1_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "Corefile"
    result = clients.run_kdns(["-conf", str(missing)], cwd=tmp_path)
    assert result.returncode == 1
    assert str(missing) in result.stderr
    assert "no such file" in result.stderr.lower()


@pytest.mark.parametrize(
    ("corefile", "line", "reason"),
    [
        (
            "example.test {\n    whoami\n    no_such_plugin\n}\n",
            3,
            "Unknown directive 'no_such_plugin'",
        ),
        ("example.test {\n    whoami extra\n}\n", 2, "Wrong argument count"),
        ("example.test {\n    log\n    whoami\n", 1, ""),
        ("a.test {\n    whoami\n}\n\nb.test {\n    bind not-an-address\n}\n", 6, "not-an-address"),
        ("a.test {\n    health {\n        lameduck soon\n    }\n}\n", 3, "lameduck"),
        ("", 1, "no server block"),
        ("# nothing yet\n\n(snippet) {\n    whoami\n}\n", 1, "no server block"),
    ],
    ids=[
        "unknown-directive",
        "argument-count",
        "unclosed-brace",
        "bad-bind",
        "bad-duration",
        "empty",
        "only-a-snippet",
    ],
)
def test_a_bad_corefile_exits_1_with_its_file_and_line(
    tmp_path: Path, corefile: str, line: int, reason: str
) -> None:
    path = tmp_path / "Corefile"
    path.write_text(corefile)
    result = clients.run_kdns(["-conf", str(path), "-dns.port", "0"], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{path}:{line} - Error during parsing:" in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_exits_1_with_the_cause(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        path = tmp_path / "Corefile"
        path.write_text(f"example.test:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n")
        result = clients.run_kdns(["-conf", str(path)], cwd=tmp_path)
    assert result.returncode == 1
    assert "address already in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr


# --- a serving process -----------------------------------------------------------------------


def test_startup_prints_one_line_per_zone_and_listener() -> None:
    port2 = clients.second_port()
    corefile = (
        "example.test other.test {\n    whoami\n}\n"
        f"local.test:{port2} {{\n    bind 127.0.0.1\n    whoami\n}}\n"
    )
    with clients.serve(corefile) as srv:
        srv.proc.wait_for_line(f"kdns-{kdns.__version__}")
        lines = srv.proc.lines
        assert f"example.test.:{srv.port}" in lines
        assert f"other.test.:{srv.port}" in lines
        assert f"local.test.:{port2} on 127.0.0.1" in lines
        assert lines.index(f"example.test.:{srv.port}") < lines.index(f"kdns-{kdns.__version__}")


def test_quiet_prints_nothing_at_startup_and_still_serves() -> None:
    corefile = "example.test {\n    log\n    whoami\n}\n"
    with clients.serve(corefile, extra_args=["-quiet"]) as srv:
        assert srv.query("q.example.test.").rcode() == dns.rcode.NOERROR
        # The query's log line proves the output flowed; nothing came before it but the probe.
        srv.proc.wait_for_line('"A IN q.example.test. udp')
        assert not [
            line for line in srv.proc.lines if f":{srv.port}" in line and "[INFO]" not in line
        ]
        assert not [line for line in srv.proc.lines if line.startswith("kdns-")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_with_exit_0(sig: int) -> None:
    with clients.serve("example.test {\n    whoami\n}\n") as srv:
        assert srv.query("example.test.").rcode() == dns.rcode.NOERROR
        started = time.monotonic()
        assert srv.proc.stop(sig, timeout=10) == 0, srv.proc.output
        assert time.monotonic() - started < 5
        with pytest.raises(OSError):
            clients.tcp_connect(srv.port, timeout=1).close()


def test_a_corefile_in_the_working_directory_is_loaded_without_conf(tmp_path: Path) -> None:
    port = kdnsproc.free_port()
    (tmp_path / "Corefile").write_text("cwd.test {\n    whoami\n}\n")
    proc = kdnsproc.KdnsProcess(
        ["-dns.port", str(port)], cwd=str(tmp_path), env=clients.child_env()
    )
    try:
        kdnsproc.wait_serving("127.0.0.1", port, proc)
        server = kdnsproc.Server(proc, port)
        assert server.query("x.cwd.test.").rcode() == dns.rcode.NOERROR
        assert server.query("whoami.test.").rcode() == dns.rcode.REFUSED, "not the embedded default"
    finally:
        assert proc.stop() == 0


# --- the embedded default --------------------------------------------------------------------

HEALTH_PORT, READY_PORT, EMBEDDED_PORT = 8080, 8181, 1053
LOCK = Path("/tmp/kdns-tests-embedded-default.lock")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def check_embedded_default(args: list[str], port: int) -> dict[str, object]:
    """Run ``kdns ARGS`` in an empty directory and probe it; JSON-able facts for the test.

    The test runs this inside a private network namespace when it can, so it is importable by
    name from the repository root.
    """
    dig = shutil.which("dig")
    assert dig is not None
    query = clients.make_query("whoami.test.", "A").to_wire()
    facts: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kdns-empty-") as empty:
        proc = kdnsproc.KdnsProcess(args, cwd=empty, env=clients.child_env())
        try:
            kdnsproc.wait_serving("127.0.0.1", port, proc)
            whoami = clients.run_dig(dig, port, "whoami.test", "+noall", "+comments", "+additional")
            facts["whoami"] = whoami.stdout
            facts["web"] = sorted(
                clients.run_dig(dig, port, "web.example.test", "+short").stdout.split()
            )
            reply = clients.udp_exchange(query, port, host="127.0.0.2", timeout=0.5)
            facts["other_loopback_answered"] = reply is not None
            facts["health"] = list(http_get(f"http://127.0.0.1:{HEALTH_PORT}/health"))
            facts["ready"] = list(http_get(f"http://127.0.0.1:{READY_PORT}/ready"))
        finally:
            facts["exit"] = proc.stop()
            facts["output"] = proc.output
    return facts


def netns_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, check=False
    )
    return probe.returncode == 0


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_embedded_default_serves_on_loopback_only() -> None:
    """No arguments, an empty working directory: the embedded example answers on 127.0.0.1.

    It also opens health on 127.0.0.1:8080 and ready on 127.0.0.1:8181, fixed ports that other
    tests or programs may hold, so it runs in a private network namespace when it can (with no
    flags at all, on port 1053), and on the host otherwise, where it waits for those ports.
    """
    port = EMBEDDED_PORT
    if netns_available():
        code = (
            "import json, subprocess, sys\n"
            "subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n"
            "from tests.server import test_the_command_line_behaves_like_coredns as t\n"
            f"print(json.dumps(t.check_embedded_default([], {EMBEDDED_PORT})))\n"
        )
        run = subprocess.run(
            ["unshare", "-rn", sys.executable, "-c", code],
            cwd=clients.REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        facts = json.loads(run.stdout.splitlines()[-1])
    else:
        with LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            deadline = time.monotonic() + 15
            while not (port_free(HEALTH_PORT) and port_free(READY_PORT)):
                if time.monotonic() > deadline:
                    pytest.skip("127.0.0.1:8080 or :8181 is taken and no netns can be made")
                time.sleep(0.5)
            port = kdnsproc.free_port()
            facts = check_embedded_default(["-dns.port", str(port)], port)
    output = str(facts["output"])
    assert facts["exit"] == 0, output
    assert "Traceback" not in output, output
    assert "status: NOERROR" in str(facts["whoami"]), facts["whoami"]
    assert re.search(r"whoami\.test\.\s+0\s+IN\s+A\s+127\.0\.0\.1", str(facts["whoami"]))
    assert facts["web"] == ["10.0.0.1", "10.0.0.2"], output
    assert facts["other_loopback_answered"] is False, "the default must bind 127.0.0.1 only"
    assert facts["health"] == [200, "OK"]
    assert facts["ready"] == [200, "OK"]
    # The start-up line as README shows it (bind set: the address follows the key).
    assert f"example.test.:{port} on 127.0.0.1" in output.splitlines(), output
    readme = (clients.REPO / "README.md").read_text()
    assert f"`example.test.:{EMBEDDED_PORT} on 127.0.0.1`" in readme

"""A listener that cannot open stops startup with one line naming the cause, and exit 1.

The line reads as CoreDNS's (Go's ``net.OpError``): ``listen PROTO HOST:PORT: bind: REASON``,
after ``Listen:``/``ListenPacket:`` for DNS and ``plugin/NAME:`` for a plugin's HTTP listener.
A server that never served has nothing to drain, so ``lameduck`` is not waited out.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from kdns import config, corefile, http
from kdns.errors import ListenError
from kdns.server.instance import Instance
from tests.support import clients, kdnsproc


def run(corefile: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **clients.child_env(), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kdns", "-conf", str(corefile)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


#: Longer than the subprocess timeout: a run that waits it out fails the test.
LAMEDUCK = "    health 127.0.0.1:{health} {{\n        lameduck 60s\n    }}\n"


def test_port_in_use(tmp_path: Path) -> None:
    port = kdnsproc.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        (tmp_path / "Corefile").write_text(f".:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n")
        out = run(tmp_path / "Corefile")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"ListenPacket: listen udp 127.0.0.1:{port}: bind: address already in use"
    ]


def test_tcp_port_in_use_on_ipv6(tmp_path: Path) -> None:
    port = kdnsproc.free_port("::1")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as busy:
        busy.bind(("::1", port))
        busy.listen()
        (tmp_path / "Corefile").write_text(f".:{port} {{\n    bind ::1\n    whoami\n}}\n")
        out = run(tmp_path / "Corefile")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"Listen: listen tcp [::1]:{port}: bind: address already in use"
    ]


def test_a_start_up_failure_does_not_wait_out_the_lameduck(tmp_path: Path) -> None:
    port, health = kdnsproc.free_port(), kdnsproc.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        (tmp_path / "Corefile").write_text(
            f".:{port} {{\n    bind 127.0.0.1\n"
            + LAMEDUCK.format(health=health)
            + "    whoami\n}\n"
        )
        out = run(tmp_path / "Corefile")
    assert out.returncode == 1
    assert "lameduck" not in out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"ListenPacket: listen udp 127.0.0.1:{port}: bind: address already in use"
    ]


def test_a_plugin_listener_in_use_names_the_plugin(tmp_path: Path) -> None:
    port, health = kdnsproc.free_port(), kdnsproc.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", health))
        busy.listen()
        (tmp_path / "Corefile").write_text(
            f".:{port} {{\n    bind 127.0.0.1\n"
            + LAMEDUCK.format(health=health)
            + "    whoami\n}\n"
        )
        out = run(tmp_path / "Corefile")
    assert out.returncode == 1
    assert "lameduck" not in out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"plugin/health: listen tcp 127.0.0.1:{health}: bind: address already in use"
    ]


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody"
)
def test_privileged_port_without_capability(tmp_path: Path) -> None:
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 53:
        pytest.skip("this machine lets anyone bind port 53")
    (tmp_path / "Corefile").write_text(".:53 {\n    bind 127.0.0.1\n    whoami\n}\n")
    # Drop CAP_NET_BIND_SERVICE from the bounding set: even root cannot bind port 53 then.
    prefix = ("setpriv", "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service")
    out = run(tmp_path / "Corefile", *(prefix if os.geteuid() == 0 else ()))
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "CAP_NET_BIND_SERVICE" in lines[0] and "ip_unprivileged_port_start" in lines[0]


# --- a failed start leaves nothing behind, and takes nothing from the running configuration ----


def loaded(text: str) -> config.Loaded:
    return config.load(corefile.parse(text), default_port=53)


def health_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


async def test_a_failed_start_closes_what_it_opened() -> None:
    port, health, ready = (kdnsproc.free_port() for _ in range(3))
    text = (
        f".:{port} {{\n    bind 127.0.0.1\n    health 127.0.0.1:{health}\n"
        f"    ready 127.0.0.1:{ready}\n    whoami\n}}\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        instance = Instance(loaded(text))
        with pytest.raises(ListenError):
            await instance.start()
    assert instance.udp == [] and instance.tcp == []
    assert not [key for key in http._endpoints if key[1] in (health, ready)]
    for taken in (health, ready):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", taken))  # free again


async def test_a_reload_that_fails_to_start_keeps_the_running_endpoints() -> None:
    port, busy_port, health, ready = (kdnsproc.free_port() for _ in range(4))
    running = f".:{port} {{\n    bind 127.0.0.1\n    health 127.0.0.1:{health}\n    whoami\n}}\n"
    instance = Instance(loaded(running))
    await instance.start()
    try:
        # The new configuration keeps the health address; its ready address cannot be bound,
        # so its health hook, after ready in the chain order, never started.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", ready))
            taken.listen()
            with pytest.raises(ListenError, match="plugin/ready: listen tcp"):
                await instance.reload(
                    loaded(
                        running.replace("    whoami", f"    ready 127.0.0.1:{ready}\n    whoami")
                    )
                )
        assert await asyncio.to_thread(health_answers, health)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("127.0.0.1", busy_port))
            with pytest.raises(ListenError, match="ListenPacket: listen udp"):
                await instance.reload(
                    loaded(running + running.replace(f":{port}", f":{busy_port}"))
                )
        assert await asyncio.to_thread(health_answers, health)
    finally:
        await instance.stop(grace=0)
    assert not await asyncio.to_thread(health_answers, health)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (
            "kubeconfig /nonexistent/kubeconfig",
            "cannot load kubeconfig /nonexistent/kubeconfig: Invalid kube-config file.",
        ),
        (
            "kubeconfig KUBECONFIG nope",
            "cannot load kubeconfig KUBECONFIG context nope: Invalid kube-config file. "
            "Expected object with name nope in KUBECONFIG/contexts list",
        ),
        (
            "endpoint https://127.0.0.1:6443\n        tls /no/cert /no/key /no/ca",
            "cannot load TLS files of endpoint https://127.0.0.1:6443:",
        ),
    ],
    ids=["missing-kubeconfig", "missing-context", "missing-tls-files"],
)
def test_kubernetes_credentials_are_checked_at_their_corefile_line(
    tmp_path: Path, options: str, reason: str
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: ""\n'
    )
    options = options.replace("KUBECONFIG", str(kubeconfig))
    reason = reason.replace("KUBECONFIG", str(kubeconfig))
    (tmp_path / "Corefile").write_text(
        f".:{kdnsproc.free_port()} {{\n    bind 127.0.0.1\n    kubernetes cluster.local {{\n"
        f"        {options}\n    }}\n}}\n"
    )
    out = run(tmp_path / "Corefile")
    assert out.returncode == 1
    (line,) = out.stderr.splitlines()
    assert line.startswith(
        f"plugin/kubernetes: {tmp_path / 'Corefile'}:4 - Error during parsing: {reason}"
    ), line


def test_kubernetes_source_that_cannot_load_blames_its_line(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(
        f".:{kdnsproc.free_port()} {{\n"
        "    bind 127.0.0.1\n"
        "    kubernetes cluster.local {\n"
        "        kubeconfig /nonexistent/kubeconfig\n"
        "    }\n"
        "}\n"
    )
    out = run(corefile)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"plugin/kubernetes: {corefile}:4 - Error during parsing: "), lines
    assert "/nonexistent/kubeconfig" in lines[0]

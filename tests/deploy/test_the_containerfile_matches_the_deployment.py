"""The Containerfile (no container engine here, so read statically) runs what deploy/ expects."""

from __future__ import annotations

import json

from kdns import cli
from tests.support import manifests


def instructions(word: str) -> list[str]:
    return [args for name, args in manifests.containerfile_instructions() if name == word]


def final_stage() -> list[tuple[str, str]]:
    steps = manifests.containerfile_instructions()
    last = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last:]


def test_multi_stage_on_python_311_slim() -> None:
    (arg,) = instructions("ARG")
    assert arg == "PYTHON_IMAGE=python:3.11-slim"
    froms = instructions("FROM")
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_entrypoint_and_cmd_are_the_deployments_command() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    (cmd,) = instructions("CMD")
    assert json.loads(entrypoint) == ["kdns"]
    assert json.loads(cmd) == manifests.container()["args"]
    assert "command" not in manifests.container()  # the image's ENTRYPOINT runs
    cli.parse_args(json.loads(cmd))


def test_the_user_is_non_root_and_the_deployments() -> None:
    users = [args for name, args in final_stage() if name == "USER"]
    assert users == ["65532:65532"]
    uid, _, gid = users[0].partition(":")
    sc = manifests.container()["securityContext"]
    assert int(uid) == sc["runAsUser"] and int(uid) != 0
    assert int(gid) == sc.get("runAsGroup", int(gid))


def test_exposed_ports() -> None:
    (expose,) = instructions("EXPOSE")
    assert expose.split() == ["53/udp", "53/tcp", "9153", "8080", "8181"]


def test_no_bytecode_at_run_time_and_the_package_in_a_venv() -> None:
    env = " ".join(args for name, args in final_stage() if name == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PATH=/opt/kdns/bin:$PATH" in env
    copies = [args for name, args in final_stage() if name == "COPY"]
    assert "--from=build /opt/kdns /opt/kdns" in copies
    runs = [args for name, args in final_stage() if name == "RUN"]
    assert runs == []  # nothing installed in the final stage


def test_the_interpreter_may_bind_port_53() -> None:
    runs = " ".join(instructions("RUN"))
    assert "setcap cap_net_bind_service=+ep /usr/local/bin/python3.11" in runs
    copies = [args for name, args in final_stage() if name == "COPY"]
    assert "--from=build /usr/local/bin/python3.11 /usr/local/bin/python3.11" in copies

"""``ready [ADDRESS]``: one readiness endpoint per address, reading the loaded hooks."""

from __future__ import annotations

import pytest

from kdns.errors import CorefileError
from kdns.plugins.ready.handler import Ready
from tests.support import seam


def readies(text: str) -> dict[str, Ready]:
    shared = seam.load(text).hooks.shared
    return {k.removeprefix("ready:"): v for k, v in shared.items() if isinstance(v, Ready)}


def test_defaults_listen_on_every_address_port_8181_and_add_no_handler() -> None:
    loaded = seam.load(". {\n    ready\n    whoami\n}\n")
    (ready,) = loaded.hooks.shared.values()
    assert (ready.endpoint.host, ready.endpoint.port) == (None, 8181)
    assert ready.hooks is loaded.hooks
    assert [name for name, _ in loaded.servers[0].factories] == ["whoami"]


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [(":8182", None, 8182), ("127.0.0.1:8182", "127.0.0.1", 8182), ("[::1]", "::1", 8181)],
)
def test_address_forms(address: str, host: str | None, port: int) -> None:
    (ready,) = readies(f". {{\n    ready {address}\n}}\n").values()
    assert (ready.endpoint.host, ready.endpoint.port) == (host, port)


def test_blocks_with_the_same_address_share_one_endpoint() -> None:
    text = ". {\n    ready\n}\nexample.org {\n    ready\n}\nexample.net {\n    ready :8182\n}\n"
    assert sorted(readies(text)) == [":8181", ":8182"]


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("ready a b", 2, "Wrong argument count"),
        ("ready :abc", 2, "bad port in address ':abc'"),
        ("ready [::1", 2, "bad address '[::1'"),
        ("ready {\n        x\n    }", 3, "unknown property 'x'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    prefix = f"plugin/ready: Corefile:{line} - Error during parsing: "
    with pytest.raises(CorefileError) as err:
        seam.load(f". {{\n    {body}\n}}\n")
    assert str(err.value).startswith(prefix)
    assert reason in str(err.value)

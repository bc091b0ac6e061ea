"""``prometheus [ADDRESS]``: one metrics endpoint per address, the Metrics handler in the chain."""

from __future__ import annotations

import pytest

from kdns.errors import CorefileError
from kdns.plugins.prometheus.handler import Endpoint, Metrics
from tests.support import seam


def endpoints(text: str) -> dict[str, tuple[str | None, int]]:
    """``{address: (host, port)}`` of the endpoints set-up made (nothing listens yet)."""
    shared = seam.load(text).hooks.shared
    found = {k: v for k, v in shared.items() if isinstance(v, Endpoint)}
    return {
        k.removeprefix("prometheus:"): (v.endpoint.host, v.endpoint.port) for k, v in found.items()
    }


def test_default_address_is_localhost_9153_and_metrics_join_the_chain() -> None:
    loaded = seam.load(". {\n    prometheus\n    whoami\n}\n")
    assert isinstance(seam.chain_handler(loaded, "prometheus"), Metrics)
    assert endpoints(". {\n    prometheus\n}\n") == {"localhost:9153": ("localhost", 9153)}


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        (":9253", None, 9253),
        ("127.0.0.1:9253", "127.0.0.1", 9253),
        ("[::1]:9253", "::1", 9253),
        ("localhost", "localhost", 9153),
    ],
)
def test_address_forms(address: str, host: str | None, port: int) -> None:
    assert endpoints(f". {{\n    prometheus {address}\n}}\n") == {address: (host, port)}


def test_blocks_with_the_same_address_share_one_endpoint() -> None:
    text = ". {\n    prometheus\n}\nexample.org {\n    prometheus :9253\n}\nexample.net {\n    prometheus\n}\n"
    assert endpoints(text) == {"localhost:9153": ("localhost", 9153), ":9253": (None, 9253)}


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("prometheus a b", 2, "Wrong argument count"),
        (
            "prometheus\n    prometheus",
            3,
            "plugin 'prometheus' can only be used once per server block",
        ),
        ("prometheus {\n        x\n    }", 3, "unknown property 'x'"),
        ("prometheus :port", 2, "bad port in address ':port'"),
        ("prometheus :70000", 2, "bad port in address ':70000'"),
        ("prometheus [::1", 2, "bad address '[::1'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    prefix = f"plugin/prometheus: Corefile:{line} - Error during parsing: "
    with pytest.raises(CorefileError) as err:
        seam.load(f". {{\n    {body}\n}}\n")
    assert str(err.value).startswith(prefix)
    assert reason in str(err.value)

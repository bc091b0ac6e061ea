"""``health [ADDRESS] { lameduck DURATION }``: one endpoint per address, the longest lameduck wins."""

from __future__ import annotations

import pytest

from kdns.errors import CorefileError
from kdns.plugins.health.handler import Health
from tests.support import seam


def healths(text: str) -> dict[str, Health]:
    shared = seam.load(text).hooks.shared
    return {k.removeprefix("health:"): v for k, v in shared.items() if isinstance(v, Health)}


def test_defaults_listen_on_every_address_port_8080_without_lameduck() -> None:
    loaded = seam.load(". {\n    health\n    whoami\n}\n")
    (health,) = loaded.hooks.shared.values()
    assert (health.endpoint.host, health.endpoint.port, health.lameduck) == (None, 8080, 0.0)
    assert loaded.hooks.shutdown == [health.enter_lameduck]
    assert [name for name, _ in loaded.servers[0].factories] == ["whoami"]


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [(":8091", None, 8091), ("localhost:8091", "localhost", 8091), ("[::1]:8091", "::1", 8091)],
)
def test_address_forms(address: str, host: str | None, port: int) -> None:
    (health,) = healths(f". {{\n    health {address}\n}}\n").values()
    assert (health.endpoint.host, health.endpoint.port) == (host, port)


def test_lameduck_and_blocks_sharing_an_address_keep_the_longest() -> None:
    text = (
        ". {\n    health :8091 {\n        lameduck 5s\n    }\n}\n"
        "example.org {\n    health :8091 {\n        lameduck 1m\n    }\n}\n"
        "example.net {\n    health :8091\n}\n"
        "example.com {\n    health :8092 {\n        lameduck 500ms\n    }\n}\n"
    )
    assert {a: h.lameduck for a, h in healths(text).items()} == {":8091": 60.0, ":8092": 0.5}
    assert len(seam.load(text).hooks.shutdown) == 2


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("health a b", 2, "Wrong argument count"),
        ("health :abc", 2, "bad port in address ':abc'"),
        ("health {\n        lameduck\n    }", 3, "Wrong argument count"),
        ("health {\n        lameduck 5s 6s\n    }", 3, "Wrong argument count"),
        (
            "health {\n        lameduck soon\n    }",
            3,
            "unable to parse lameduck duration value: 'soon'",
        ),
        ("health {\n        x\n    }", 3, "unknown property 'x'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    prefix = f"plugin/health: Corefile:{line} - Error during parsing: "
    with pytest.raises(CorefileError) as err:
        seam.load(f". {{\n    {body}\n}}\n")
    assert str(err.value).startswith(prefix)
    assert reason in str(err.value)

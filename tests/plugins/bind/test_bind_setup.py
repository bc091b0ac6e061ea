"""``bind ADDRESS|IFACE ... { except ADDRESS|IFACE ... }``: the addresses a server block listens on."""

from __future__ import annotations

import pytest

from kdns.errors import CorefileError
from kdns.pkg import interfaces
from tests.support import seam


def listen(body: str) -> list[str]:
    (server,) = seam.load(f". {{\n    {body}\n    whoami\n}}\n").servers
    return server.listen


def test_without_bind_a_block_listens_on_every_address() -> None:
    assert listen("") == []


def test_addresses_are_normalised_and_lines_add_up_without_repeats() -> None:
    assert listen("bind 127.0.0.1 0:0::1") == ["127.0.0.1", "::1"]
    assert listen("bind 127.0.0.1\n    bind 127.0.0.1 127.0.0.2") == ["127.0.0.1", "127.0.0.2"]


def test_an_interface_expands_to_its_addresses_and_except_removes_some() -> None:
    loopback = interfaces.addresses("lo")
    assert "127.0.0.1" in loopback
    assert listen("bind lo") == loopback
    others = [a for a in loopback if a != "127.0.0.1"]
    assert listen("bind lo 127.0.0.2 {\n        except 127.0.0.1\n    }") == [*others, "127.0.0.2"]
    assert listen("bind 127.0.0.1 127.0.0.2 {\n        except lo\n    }") == ["127.0.0.2"]


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("bind", 2, "Wrong argument count"),
        ("bind nosuchif0", 2, "not a valid IP address or interface name: nosuchif0"),
        ("bind 127.0.0.1 {\n        except 127.0.0.1\n    }", 2, "all addresses are excluded"),
        ("bind 127.0.0.1 {\n        except\n    }", 3, "Wrong argument count"),
        (
            "bind 127.0.0.1 {\n        except nosuchif0\n    }",
            3,
            "not a valid IP address or interface name",
        ),
        ("bind 127.0.0.1 {\n        x\n    }", 3, "unknown property 'x'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    prefix = f"plugin/bind: Corefile:{line} - Error during parsing: "
    with pytest.raises(CorefileError) as err:
        listen(body)
    assert str(err.value).startswith(prefix)
    assert reason in str(err.value)

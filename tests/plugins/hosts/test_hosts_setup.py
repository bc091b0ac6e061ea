"""``hosts`` Corefile parsing: defaults, every option, inline lines, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.errors import CorefileError
from kdns.pkg import fall
from kdns.plugins.hosts import setup
from kdns.plugins.hosts.options import Options
from tests.support import seam

BLOCK = ("example.org.",)


def parse(line: str, *, filename: str = "/etc/kdns/Corefile") -> Options:
    text = f"example.org {{\n    {line}\n}}\n"
    return setup.parse(seam.directive(text, "hosts", filename=filename), BLOCK)


def test_defaults_are_coredns_defaults() -> None:
    opts = parse("hosts")
    assert opts.path == Path("/etc/hosts")
    assert opts.zones == BLOCK
    assert (opts.ttl, opts.reverse, opts.reload) == (3600, True, 5.0)
    assert opts.inline == ()
    assert opts.fallthrough == fall.ZERO


def test_file_is_relative_to_the_corefile_and_zones_follow_it() -> None:
    opts = parse("hosts example.hosts Example.NET 192.0.2.0/24")
    assert opts.path == Path("/etc/kdns/example.hosts")
    assert opts.zones == ("example.net.", "2.0.192.in-addr.arpa.")
    assert parse("hosts /srv/hosts").path == Path("/srv/hosts")


def test_block_options_and_inline_lines() -> None:
    opts = parse(
        """hosts example.hosts {
        10.0.0.1 example.org www.example.org
        fdfc::1 example.org  # comments go
        ttl 60
        no_reverse
        reload 1m30s
        fallthrough in-addr.arpa
    }"""
    )
    assert opts.inline == ("10.0.0.1 example.org www.example.org", "fdfc::1 example.org")
    assert (opts.ttl, opts.reverse, opts.reload) == (60, False, 90.0)
    assert opts.fallthrough.zones == ("in-addr.arpa.",)


def test_bare_fallthrough_and_reload_zero() -> None:
    opts = parse("hosts {\n        reload 0\n        fallthrough\n    }")
    assert opts.reload == 0.0
    assert opts.fallthrough == fall.ROOT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("ttl", "ttl needs a time in second"),
        ("ttl soon", "ttl needs a number of second"),
        ("ttl 0", "ttl provided is invalid"),
        ("ttl 65536", "ttl provided is invalid"),
        ("reload", "reload needs a duration (zero seconds to disable)"),
        ("reload 5", "invalid duration for reload '5'"),
        ("reload -5s", "invalid negative duration for reload '-5s'"),
        ("no_reverse yes", "Wrong argument count"),
        ("10.0.0.1", "Wrong argument count"),
        ("tll 60", "unknown property 'tll'"),
        ("fallthrough\n        10.0.0.1 late.example.org", "unknown property '10.0.0.1'"),
        ("fallthrough 10.0.0.0/33", "invalid CIDR '10.0.0.0/33'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        parse(f"hosts {{\n        {body}\n    }}", filename="Corefile")
    line = 3 + body.count("\n")
    assert str(err.value).startswith(f"plugin/hosts: Corefile:{line} - Error during parsing: ")
    assert reason in str(err.value)


def test_bad_zone_argument() -> None:
    with pytest.raises(CorefileError, match=r"Corefile:2 - .*invalid zone 'a\.\.b'"):
        parse("hosts hosts a..b", filename="Corefile")


def test_once_per_server_block(tmp_path: Path) -> None:
    with pytest.raises(CorefileError, match="can only be used once per server block"):
        seam.load(". {\n    hosts\n    hosts\n}\n", filename=str(tmp_path / "Corefile"))


def test_missing_file_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = seam.load(
        ". {\n    hosts nothere {\n        192.0.2.1 a.example\n    }\n}\n",
        filename=str(tmp_path / "Corefile"),
    )
    assert "File does not exist" in caplog.text
    hosts = seam.chain_handler(loaded, "hosts")
    assert hosts.table.names == {b"\x01a\x07example\x00"}

"""``cache`` Corefile parsing: CoreDNS's defaults, every option, and errors with file:line."""

from __future__ import annotations

import pytest

from kdns.errors import CorefileError
from kdns.plugins.cache import options, setup
from tests.support import seam

BLOCK = ("example.org.",)


def parse(body: str, *, keys: str = "example.org") -> options.Options:
    text = f"{keys} {{\n    {body}\n}}\n"
    return setup.parse(seam.directive(text, "cache"), BLOCK)


def test_defaults_are_coredns_defaults() -> None:
    opts = parse("cache")
    assert opts.zones == BLOCK
    assert (opts.success_capacity, opts.success_ttl, opts.success_min_ttl) == (9984, 3600, 5)
    assert (opts.denial_capacity, opts.denial_ttl, opts.denial_min_ttl) == (9984, 1800, 5)
    assert opts.servfail_ttl == 5.0
    assert opts.prefetch == 0
    assert opts.stale == 0.0
    assert not opts.verify
    assert not opts.keepttl
    assert opts.disable_success == opts.disable_denial == ()


def test_ttl_and_zones_arguments() -> None:
    opts = parse("cache 300 Example.COM 10.0.0.0/8")
    assert opts.success_ttl == opts.denial_ttl == 300
    assert opts.zones == ("example.com.", "10.in-addr.arpa.")


def test_first_argument_that_is_no_number_is_a_zone() -> None:
    opts = parse("cache example.net")
    assert opts.zones == ("example.net.",)
    assert opts.success_ttl == 3600


def test_block_options() -> None:
    opts = parse(
        """cache 30 {
        success 5000 600 10
        denial 2500 60 1
        prefetch 3 2m 20%
        serve_stale 10m verify
        servfail 2s
        disable denial in-addr.arpa example.org
        disable success
        keepttl
    }"""
    )
    assert (opts.success_capacity, opts.success_ttl, opts.success_min_ttl) == (5000, 600, 10)
    assert (opts.denial_capacity, opts.denial_ttl, opts.denial_min_ttl) == (2500, 60, 1)
    assert (opts.prefetch, opts.prefetch_window, opts.prefetch_percentage) == (3, 120.0, 20)
    assert (opts.stale, opts.verify) == (600.0, True)
    assert opts.servfail_ttl == 2.0
    assert opts.disable_denial == ("in-addr.arpa.", "example.org.")
    assert opts.disable_success == (".",)
    assert opts.keepttl


def test_option_defaults_inside_the_block() -> None:
    opts = parse("cache {\n        prefetch 2\n        serve_stale\n        denial 0\n    }")
    assert (opts.prefetch, opts.prefetch_window, opts.prefetch_percentage) == (2, 60.0, 10)
    assert (opts.stale, opts.verify) == (3600.0, False)
    assert opts.denial_capacity == 0
    assert opts.denial_ttl == 1800


def test_serve_stale_immediate_and_servfail_zero() -> None:
    opts = parse("cache {\n        serve_stale 30s IMMEDIATE\n        servfail 0\n    }")
    assert (opts.stale, opts.verify, opts.servfail_ttl) == (30.0, False, 0.0)


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("cache 0", 2, "cache TTL can not be zero or negative: 0"),
        ("cache -5", 2, "cache TTL can not be zero or negative: -5"),
        ("cache {\n        success\n    }", 3, "Wrong argument count"),
        ("cache {\n        success 1 2 3 4\n    }", 3, "Wrong argument count"),
        ("cache {\n        success many\n    }", 3, "invalid capacity 'many'"),
        ("cache {\n        success -1\n    }", 3, "cache capacity can not be negative: -1"),
        ("cache {\n        denial 10 0\n    }", 3, "cache TTL can not be zero or negative: 0"),
        ("cache {\n        denial 10 20 -1\n    }", 3, "cache min TTL can not be negative: -1"),
        ("cache {\n        prefetch\n    }", 3, "Wrong argument count"),
        ("cache {\n        prefetch -1\n    }", 3, "prefetch amount should be positive: -1"),
        ("cache {\n        prefetch 1 10\n    }", 3, 'time: missing unit in duration "10"'),
        ("cache {\n        prefetch 1 1m 20\n    }", 3, "last character of percentage should be"),
        (
            "cache {\n        prefetch 1 1m 5%\n    }",
            3,
            "percentage should fall in range [10, 90]: 5",
        ),
        ("cache {\n        serve_stale 1h verify now\n    }", 3, "Wrong argument count"),
        ("cache {\n        serve_stale -1h\n    }", 3, "invalid negative duration for serve_stale"),
        ("cache {\n        serve_stale 1h before\n    }", 3, "refresh mode: before"),
        ("cache {\n        servfail\n    }", 3, "Wrong argument count"),
        ("cache {\n        servfail -1s\n    }", 3, "invalid negative ttl for servfail"),
        ("cache {\n        servfail 6m\n    }", 3, "over 5 minutes is not permitted"),
        ("cache {\n        disable\n    }", 3, "Wrong argument count"),
        ("cache {\n        disable errors\n    }", 3, 'must be "success" or "denial"'),
        ("cache {\n        keepttl 1\n    }", 3, "Wrong argument count"),
        ("cache {\n        prefech 1\n    }", 3, "unknown property 'prefech'"),
        ("cache bad..zone", 2, "invalid zone 'bad..zone'"),
    ],
)
def test_errors_name_plugin_file_and_line(body: str, line: int, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        parse(body)
    assert err.value.line == line
    assert str(err.value).startswith(f"plugin/cache: Corefile:{line} - Error during parsing: ")
    assert reason in str(err.value)


def test_once_per_server_block() -> None:
    with pytest.raises(CorefileError, match="can only be used once per server block"):
        seam.load(". {\n    cache\n    cache 30\n}\n")


def test_setup_puts_cache_in_the_chain_with_block_zones() -> None:
    loaded = seam.load("example.org example.net {\n    cache 10\n    whoami\n}\n")
    cache = seam.chain_handler(loaded, "cache")
    assert cache.opts.zones == ("example.org.", "example.net.")
    assert cache.opts.success_ttl == 10
    assert cache.next.name == "whoami"
    assert loaded.hooks.shared["cache.handlers"] == [cache]

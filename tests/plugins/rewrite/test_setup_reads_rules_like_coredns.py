"""``rewrite`` lines parse as CoreDNS's setup and newRule parse them; bad ones stop start-up with
``plugin/rewrite: FILE:LINE - Error during parsing: reason``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.errors import CorefileError
from kdns.plugins.rewrite import fields
from kdns.plugins.rewrite.handler import Rewrite
from kdns.plugins.rewrite.matching import BadRule
from tests.support import clients, seam


def rules(text: str) -> list[object]:
    loaded = seam.load(f". {{\n{text}\n    whoami\n}}\n")
    factories = dict(loaded.servers[0].factories)
    handler = factories["rewrite"](seam.Next(seam.answer("x.", "A")))
    assert isinstance(handler, Rewrite)
    return list(handler.rules)


GOOD = [
    "rewrite name a.com b.com",
    "rewrite stop name regex foo bar answer name bar foo",
    "rewrite stop {\n    name regex foo bar\n    answer name bar foo\n}",
    "rewrite {\n    name regex (.*)\\.a\\.test {1}.b.test\n    answer auto\n}",
    "rewrite CONTINUE NAME PREFIX foo bar answer auto",
    "rewrite name suffix .a.test .b.test answer auto",
    "rewrite name substring a b answer value (.*)\\.b {1}.a",
    "rewrite name regex (.*)\\.x {1}.y answer name (.*)\\.y {1}.x value (.*)\\.z {1}.x",
    "rewrite name exact a.test b.test answer value (.*)\\.b\\.test {1}.a.test",
    "rewrite type ANY hinfo",
    "rewrite class CH IN",
    "rewrite ttl a.test 15",
    "rewrite ttl regex (.*)\\.coredns\\.rocks 30-300",
    "rewrite ttl suffix a.test -11",
    "rewrite ttl prefix a 5-",
    "rewrite rcode a.test servfail 0",
    "rewrite rcode substring a 3 NOERROR",
    "rewrite edns0 local set 0xffee abcd",
    "rewrite edns0 local replace 65518 0x61626364 revert",
    "rewrite edns0 local append 0o177 {client_ip}",
    "rewrite edns0 local unset 0xffee",
    "rewrite edns0 nsid set",
    "rewrite edns0 nsid unset",
    "rewrite edns0 subnet set 24 56",
    "rewrite edns0 subnet append 0 128 revert",
    "rewrite edns0 subnet unset",
    "rewrite cname exact a.test b.test",
    "rewrite continue cname regex (.*)\\.web\\.(.*)\\.site\\. {1}.webapp.{2}.org.",
]


@pytest.mark.parametrize("text", GOOD)
def test_good_rules_load(text: str) -> None:
    assert len(rules("    " + text.replace("\n", "\n    "))) == 1


def test_every_rewrite_of_a_block_joins_one_list_in_file_order() -> None:
    got = rules("    rewrite continue type A AAAA\n    rewrite class CH IN\n    rewrite ttl a 1")
    assert [type(r).__name__ for r in got] == ["TypeRule", "ClassRule", "TtlRule"]
    assert [r.mode for r in got] == ["continue", "stop", "stop"]  # type: ignore[attr-defined]


BAD = [
    ("rewrite", "Wrong argument count"),
    ("rewrite stop", "Wrong argument count"),
    ("rewrite name", "2 arguments required"),
    ("rewrite name a.com", "2 arguments required"),
    ("rewrite name a.com b.com c.com", "unknown match type"),
    ("rewrite name regex (abc b.com", "invalid regex"),
    ("rewrite name regex a {1}.b", "has 0 group"),
    ("rewrite name exact a b answer ttl x y", "unexpected trailing arguments for"),
    ("rewrite name exact a b NoAnswer name x y", "unexpected trailing arguments for"),
    ("rewrite name regex a b answer", "answer: want auto"),
    ("rewrite name regex a b answer name x", "2 arguments required"),
    ("rewrite name regex a b answer auto answer name x y", "cannot be combined"),
    (
        "rewrite stop {\n        name regex foo bar\n        answer name bar foo\n"
        "        name baz qux\n    }",
        "unexpected trailing arguments for",
    ),
    (
        "rewrite stop {\n        answer name bar foo\n        name regex foo bar\n    }",
        "must begin with a name rule",
    ),
    ("rewrite foo a b", "invalid field"),
    ("rewrite type", "2 arguments required"),
    ("rewrite type a", "2 arguments required"),
    ("rewrite type any a a", "2 arguments required"),
    ("rewrite type XX A", "invalid type"),
    ("rewrite class XX IN", "invalid class"),
    ("rewrite ttl a", "2 or 3 arguments"),
    ("rewrite ttl a b c d", "2 or 3 arguments"),
    ("rewrite ttl a.test -", "invalid TTL range"),
    ("rewrite ttl a.test 2-1", "minimum above maximum"),
    ("rewrite ttl a.test 5-10-20", "invalid TTL"),
    ("rewrite ttl a.test abc", "invalid TTL"),
    ("rewrite ttl a.test 4294967296", "invalid TTL"),
    ("rewrite rcode a.test NOERROR", "3 or 4 arguments"),
    ("rewrite rcode a.test NOERROR FOO", "invalid rcode"),
    ("rewrite rcode a.test 24 0", "invalid rcode"),
    ("rewrite edns0 local", "want local, nsid or subnet"),
    ("rewrite edns0 foo set 1 2", "invalid type"),
    ("rewrite edns0 local frob 0xffee a", "invalid action"),
    ("rewrite edns0 local set 0xffee", "2 arguments required"),
    ("rewrite edns0 local set 0x1ffff a", "out of range"),
    ("rewrite edns0 local set xyz a", "invalid code"),
    ("rewrite edns0 local set 0xffee 0xabcdefg", "invalid hex"),
    ("rewrite edns0 local set 0xffee {nope}", "unsupported variable"),
    ("rewrite edns0 local set 0xffee {some-plugin/label}", "metadata"),
    ("rewrite edns0 local unset 0xffee revert", "revert cannot be used with unset"),
    ("rewrite edns0 nsid set foo", "takes no arguments"),
    ("rewrite edns0 subnet set 33 56", "invalid prefix length"),
    ("rewrite edns0 subnet set 24 129", "invalid prefix length"),
    ("rewrite edns0 subnet set 24", "2 arguments required"),
    ("rewrite edns0 subnet unset 24", "takes no arguments"),
    ("rewrite cname a", "2 or 3 arguments"),
    ("rewrite cname foo a b", "unknown match type"),
]


@pytest.mark.parametrize(("text", "reason"), BAD)
def test_bad_rules_name_file_and_line(text: str, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        seam.load(f". {{\n    whoami\n    {text}\n}}\n")
    message = str(err.value)
    assert message.startswith("plugin/rewrite: Corefile:3 - Error during parsing: "), message
    assert reason in message


def test_bad_rule_stops_kdns_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "Corefile").write_text(".:1 {\n    rewrite name a\n    whoami\n}\n")
    out = clients.run_kdns(["-conf", str(tmp_path / "Corefile")], cwd=tmp_path)
    assert out.returncode == 1
    assert f"plugin/rewrite: {tmp_path / 'Corefile'}:2 - Error during parsing:" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("5", 5, 5), ("30-300", 30, 300), ("-11", 0, 11), ("5-", 5, 2147483647)],
)
def test_ttl_ranges(text: str, low: int, high: int) -> None:
    assert fields.ttl_range(text) == (low, high)


def test_ttl_range_rejects_an_empty_dash() -> None:
    with pytest.raises(BadRule):
        fields.ttl_range("-")

"""Several ``log`` lines in a block: the first rule whose NAMES match a query decides, as in CoreDNS.

CoreDNS's ``plugin/log`` (``Logger.ServeDNS``) walks its rules in Corefile order, skips those
whose name scope does not match, and returns after the first that does, whether or not its
``class`` lets the line be written. So a narrower rule listed first silences a broader one.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from kdns import config, corefile, plugin, wire
from kdns.request import Request

ANSWERS = "zone: example.test\nrecords:\n  www: {A: 192.0.2.1}\n"


def chain(tmp_path: Path, text: str) -> plugin.Handler:
    (tmp_path / "example.test.yaml").write_text(ANSWERS)
    path = tmp_path / "Corefile"
    path.write_text(text)
    (server,) = config.load(corefile.load(path), default_port=1053).servers
    return server.handler


def lines(handler: plugin.Handler, caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    caplog.clear()
    data = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    data += wire.text_to_name(name) + struct.pack("!HH", 1, wire.CLASS_IN)
    with caplog.at_level(logging.INFO, logger="kdns.plugin.log"):
        handler.serve(Request(data, "udp", ("127.0.0.1", 5300)))
    return [r.getMessage() for r in caplog.records if r.name == "kdns.plugin.log"]


COREFILE = """\
. {
    log example.test "first {name} {rcode}" {
        class denial
    }
    log . "second {name} {rcode}"
    records example.test.yaml
    whoami
}
"""


def test_a_matching_rule_whose_class_does_not_match_stops_the_walk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = chain(tmp_path, COREFILE)
    # example.test names match the first rule: denials are logged by it, successes by none.
    assert lines(handler, caplog, "nope.example.test.") == ["first nope.example.test. NXDOMAIN"]
    assert lines(handler, caplog, "www.example.test.") == []
    # Other names skip the first rule and meet the second.
    assert lines(handler, caplog, "whoami.test.") == ["second whoami.test. NOERROR"]


def test_each_query_is_logged_once_at_most(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = chain(
        tmp_path,
        '. {\n    log . "a {name}"\n    log example.test "b {name}"\n    whoami\n}\n',
    )
    assert lines(handler, caplog, "www.example.test.") == ["a www.example.test."]


def test_an_escaped_dot_is_no_zone_boundary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``a\\.example.test.`` has the labels "a.example" and test: not under example.test."""
    handler = chain(tmp_path, COREFILE)
    assert lines(handler, caplog, "a\\.example.test.") == ["second a\\.example.test. NOERROR"]

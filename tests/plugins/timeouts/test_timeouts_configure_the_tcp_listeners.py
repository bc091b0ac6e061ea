"""``timeouts { read; write; idle }`` as CoreDNS's ``plugin/timeouts`` parses it, and where the
values go: the TCP listeners of the block's addresses, the last block setting one winning."""

from __future__ import annotations

import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from kdns.server.instance import Instance
from kdns.server.tcp import Timeouts


def load(text: str) -> config.Loaded:
    return config.load(corefile.parse(text, filename="Corefile"))


def settings(text: str) -> dict[tuple[str, int], Timeouts]:
    return Instance.tcp_timeouts(load(text))


def test_each_setting_takes_a_go_duration_or_whole_seconds() -> None:
    found = settings(
        ".:1053 {\n timeouts {\n  read 500s\n  write 2m\n  idle 30\n  maxtcpqueries 3\n }\n"
        " whoami\n}\n"
    )
    assert found == {("", 1053): Timeouts(read=500.0, write=120.0, idle=30.0, maxtcpqueries=3)}


def test_settings_left_out_keep_coredns_defaults() -> None:
    found = settings(".:1053 {\n timeouts {\n  idle 1m\n }\n whoami\n}\n")
    assert found[("", 1053)] == Timeouts(read=3.0, write=5.0, idle=60.0)
    assert settings(".:1053 {\n whoami\n}\n")[("", 1053)] == Timeouts(3.0, 5.0, 10.0)


def test_blocks_sharing_a_listener_take_the_last_value_set() -> None:
    text = (
        "a.test:1053 {\n timeouts {\n  read 7s\n  idle 20s\n }\n whoami\n}\n"
        "b.test:1053 {\n timeouts {\n  idle 40s\n }\n whoami\n}\n"
        "c.test:1054 {\n whoami\n}\n"
    )
    found = settings(text)
    assert found[("", 1053)] == Timeouts(read=7.0, write=5.0, idle=40.0)
    assert found[("", 1054)] == Timeouts()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("timeouts", "timeouts block with no timeouts specified"),
        ("timeouts {\n }", "timeouts block with no timeouts specified"),
        ("timeouts 5s {\n  read 1s\n }", "Wrong argument count"),
        ("timeouts {\n  read\n }", "Wrong argument count"),
        ("timeouts {\n  read 1s 2s\n }", "Wrong argument count"),
        ("timeouts {\n  maxreads 5\n }", "unknown option 'maxreads'"),
        ("timeouts {\n  maxtcpqueries 0\n }", "needs to be -1 (unlimited) or a positive integer"),
        ("timeouts {\n  maxtcpqueries -2\n }", "needs to be -1 (unlimited) or a positive integer"),
        ("timeouts {\n  maxtcpqueries many\n }", "invalid value for maxtcpqueries"),
        ("timeouts {\n  read 500ms\n }", "needs to be between 1 second and 24 hours"),
        ("timeouts {\n  idle 25h\n }", "needs to be between 1 second and 24 hours"),
        ("timeouts {\n  write 0\n }", "needs to be between 1 second and 24 hours"),
        ("timeouts {\n  read soon\n }", 'invalid duration "soon"'),
        ("timeouts {\n  read 1s\n }\n timeouts {\n  idle 1s\n }", "can only be used once"),
    ],
)
def test_bad_settings_stop_the_load_naming_file_and_line(body: str, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        load(f".:1053 {{\n {body}\n whoami\n}}\n")
    assert reason in str(err.value)
    assert "Corefile:" in str(err.value)

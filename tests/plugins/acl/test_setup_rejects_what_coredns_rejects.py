"""``acl`` lines that do not parse stop startup with the file, line and CoreDNS's reason."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from kdns.plugins.acl import setup as acl_setup
from kdns.plugins.acl.handler import EVERYWHERE, Action, Networks

README = Path(acl_setup.__file__).with_name("README.md")


def load(text: str) -> config.Loaded:
    return config.load(corefile.parse(textwrap.dedent(text)), default_port=1053)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "permit net 10.0.0.0/8",
            "unexpected token 'permit'; expect 'allow', 'block', 'filter' or 'drop'",
        ),
        ("block type", "no token specified in 'type' section"),
        ("block net", "no token specified in 'net' section"),
        ("block type A net", "no token specified in 'net' section"),
        ("block type NOPE", "unexpected token 'NOPE'; expect legal QTYPE"),
        ("block net 10.0.0.0/33", "illegal CIDR notation '10.0.0.0/33'"),
        ("block net 10.0.0", "illegal CIDR notation '10.0.0/32'"),
        ("block net example.org", "illegal CIDR notation 'example.org/32'"),
        ("block net 2001:db8::/129", "illegal CIDR notation '2001:db8::/129'"),
        ("block file /etc/deny.txt", "unexpected token 'file'; expect 'type | net'"),
        ("block 10.0.0.0/8", "unexpected token '10.0.0.0/8'; expect 'type | net'"),
    ],
)
def test_bad_policy_lines(line: str, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        load(f". {{\n    acl {{\n        {line}\n    }}\n    whoami\n}}\n")
    assert reason in str(err.value)
    assert err.value.line == 3


def test_a_policy_takes_no_block() -> None:
    with pytest.raises(CorefileError) as err:
        load(". {\n acl {\n  block {\n   net 10.0.0.0/8\n  }\n }\n whoami\n}")
    assert err.value.line == 3


def test_a_bad_zone_is_named() -> None:
    with pytest.raises(CorefileError, match="invalid CIDR"):
        load(". {\n acl 10.0.0.0/99 {\n  block\n }\n whoami\n}")


def test_keywords_are_case_insensitive_and_types_are_not() -> None:
    rule = acl_setup.parse(
        corefile.parse(". {\n acl {\n  BLOCK TYPE AAAA NET 10.0.0.0/8\n }\n}")[0].directives[0],
        (".",),
    )
    (policy,) = rule.policies
    assert policy.action is Action.BLOCK
    assert policy.qtypes == frozenset({28})
    with pytest.raises(CorefileError, match="expect legal QTYPE"):
        load(". {\n acl {\n  block type aaaa\n }\n whoami\n}")


def test_networks_are_compiled_at_setup() -> None:
    d = corefile.parse(
        ". {\n acl example.org 10.0.0.0/24 {\n  drop net 10.0.0.0/8 10.0.0.0/8 ::1\n  allow net * 10.0.0.1\n }\n}"
    )[0].directives[0]
    rule = acl_setup.parse(d, (".",))
    assert rule.zones == ("example.org.", "0.0.10.in-addr.arpa.")
    drop, allow = rule.policies
    assert drop.action is Action.DROP and drop.qtypes is None
    assert drop.networks == Networks(v4=((0x0A000000, 0xFF000000),), v6=((1, (1 << 128) - 1),))
    assert allow.networks == EVERYWHERE


def test_every_readme_example_loads() -> None:
    examples = re.findall(r"~~~ corefile\n(.*?)~~~", README.read_text(), flags=re.S)
    assert len(examples) >= 5
    for text in examples:
        load(text)

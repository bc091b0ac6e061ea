"""``loadbalance`` Corefile parsing, and a real kdns rotating a truncated headless-style answer."""

from __future__ import annotations

import ipaddress

import dns.flags
import pytest

from kdns.errors import CorefileError
from kdns.plugins.loadbalance import setup
from kdns.plugins.loadbalance.options import Options
from tests.support import clients, seam


def parse(line: str) -> Options:
    return setup.parse(seam.directive(f". {{\n    {line}\n}}\n", "loadbalance"))


def test_round_robin_is_the_default_policy() -> None:
    assert parse("loadbalance") == Options()
    assert parse("loadbalance round_robin") == Options()


def test_prefer_networks_in_order() -> None:
    opts = parse(
        "loadbalance round_robin {\n        prefer 10.0.0.0/8 fd00::/8\n        prefer 192.168.1.7/24\n    }"
    )
    assert opts.prefer == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("192.168.1.0/24"),
    )


@pytest.mark.parametrize(
    ("line", "where", "reason"),
    [
        ("loadbalance random", 2, "unknown policy: random"),
        ("loadbalance round_robin extra", 2, "unknown property for round_robin"),
        ("loadbalance weighted db.weights", 2, "weighted policy is not supported by kdns"),
        ("loadbalance {\n        prefer\n    }", 3, "Wrong argument count"),
        ("loadbalance {\n        prefer 10.0.0.0/40\n    }", 3, 'invalid CIDR "10.0.0.0/40"'),
        ("loadbalance {\n        limit_answers 5\n    }", 3, "unknown property 'limit_answers'"),
    ],
)
def test_errors_name_plugin_file_and_line(line: str, where: int, reason: str) -> None:
    with pytest.raises(CorefileError) as err:
        parse(line)
    assert str(err.value).startswith(f"plugin/loadbalance: Corefile:{where} - ")
    assert reason in str(err.value)


def test_once_per_server_block() -> None:
    with pytest.raises(CorefileError, match="can only be used once per server block"):
        seam.load(". {\n    loadbalance\n    loadbalance\n    whoami\n}\n")


def test_setup_wraps_the_cache() -> None:
    loaded = seam.load(". {\n    cache\n    loadbalance\n    whoami\n}\n")
    lb = seam.chain_handler(loaded, "loadbalance")
    assert lb.next.name == "cache"  # plugin order: loadbalance sees the cache's answers


COREFILE = """\
example.org {
    loadbalance
    cache 30
    hosts hosts
}
"""


def test_truncated_answers_rotate_over_the_whole_set() -> None:
    # A headless-style name with 100 addresses (USER-NEEDS 22): over UDP without EDNS a reply
    # is cut at 512 bytes with TC set, and with loadbalance the kept subset rotates.
    hosts = "".join(f"10.0.{i // 250}.{i % 250 + 1} many.example.org\n" for i in range(100))
    with clients.serve(COREFILE, files={"hosts": hosts}) as server:
        firsts = set()
        for _ in range(20):
            reply = server.query("many.example.org.", "A")
            assert reply.flags & dns.flags.TC
            assert 0 < len(reply.answer[0]) < 100
            firsts.add(reply.answer[0][0].to_text())
        assert len(firsts) >= 10
        edns = server.query("many.example.org.", "A", use_edns=0, payload=1232)
        assert edns.flags & dns.flags.TC and len(edns.answer[0]) > len(reply.answer[0])
        full = server.query("many.example.org.", "A", tcp=True)
        assert not full.flags & dns.flags.TC
        assert len(full.answer[0]) == 100

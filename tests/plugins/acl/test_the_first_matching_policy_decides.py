"""``acl`` through the handler: block, filter, drop and allow, first match wins, default allow."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import pytest

from kdns import config, corefile, metrics
from tests.support.chains import DROPPED, acl_only, ask, chain, outcome


def test_each_action_does_what_coredns_does() -> None:
    h = chain(
        """\
        . {
            acl {
                block net 10.0.0.1
                filter net 10.0.0.2
                drop net 10.0.0.3
                allow net 10.0.0.4
            }
            whoami
        }
        """
    )
    assert outcome(h, "a.example.", "A", "10.0.0.1") == "REFUSED"
    assert outcome(h, "a.example.", "A", "10.0.0.2") == "NODATA"
    assert outcome(h, "a.example.", "A", "10.0.0.3") == DROPPED
    assert outcome(h, "a.example.", "A", "10.0.0.4") == "ANSWERED"
    assert outcome(h, "a.example.", "A", "10.0.0.5") == "ANSWERED"  # default: allow


def test_block_is_refused_and_filter_is_an_empty_noerror_without_soa() -> None:
    h = chain(". {\n acl {\n  block net 10.0.0.1\n  filter net 10.0.0.2\n }\n whoami\n}")
    refused = ask(h, "Name.Example.", "A", "10.0.0.1")
    assert isinstance(refused, dns.message.Message)
    assert refused.rcode() == dns.rcode.REFUSED
    assert str(refused.question[0].name) == "Name.Example."
    filtered = ask(h, "Name.Example.", "AAAA", "10.0.0.2")
    assert isinstance(filtered, dns.message.Message)
    assert filtered.rcode() == dns.rcode.NOERROR
    assert (filtered.answer, filtered.authority, filtered.additional) == ([], [], [])
    assert filtered.flags & dns.flags.QR
    assert not filtered.flags & dns.flags.AA  # CoreDNS's SetRcode sets no AA
    assert str(filtered.question[0].name) == "Name.Example."


def test_rules_are_evaluated_in_order() -> None:
    h = chain(
        """\
        . {
            acl {
                allow net 192.168.1.0/24
                block net 192.168.0.0/16
            }
            whoami
        }
        """
    )
    assert outcome(h, "x.", "A", "192.168.1.77") == "ANSWERED"
    assert outcome(h, "x.", "A", "192.168.2.77") == "REFUSED"
    assert outcome(h, "x.", "A", "192.169.0.1") == "ANSWERED"


def test_allow_listed_networks_only() -> None:
    h = chain(
        """\
        . {
            acl {
                allow net 192.168.0.0/24 192.168.1.0/24
                block
            }
            whoami
        }
        """
    )
    assert outcome(h, "x.", "A", "192.168.0.1") == "ANSWERED"
    assert outcome(h, "x.", "A", "192.168.1.255") == "ANSWERED"
    assert outcome(h, "x.", "A", "192.168.2.1") == "REFUSED"
    assert outcome(h, "x.", "A", "2001:db8::1") == "REFUSED"  # a bare action matches IPv6 too


def test_query_types_narrow_a_policy() -> None:
    h = chain(". {\n acl {\n  block type A MX net 10.0.0.0/8\n }\n whoami\n}")
    assert outcome(h, "x.", "A", "10.1.1.1") == "REFUSED"
    assert outcome(h, "x.", "MX", "10.1.1.1") == "REFUSED"
    assert outcome(h, "x.", "AAAA", "10.1.1.1") == "ANSWERED"
    assert outcome(h, "x.", "A", "11.1.1.1") == "ANSWERED"


@pytest.mark.parametrize(
    "line",
    [
        "block type *",
        "block net *",
        "block type * net *",
        "block",
        "block type TXT * net 10.0.0.1 *",
    ],
)
def test_wildcards_match_every_type_and_every_client(line: str) -> None:
    h = chain(f". {{\n acl {{\n  {line}\n }}\n whoami\n}}")
    for source in ("10.0.0.1", "203.0.113.9", "::1", "2001:db8::5"):
        for qtype in ("A", "AAAA", "SRV", "PTR"):
            assert outcome(h, "x.", qtype, source) == "REFUSED", (line, source, qtype)


def test_a_type_alone_matches_every_client() -> None:
    h = chain(". {\n acl {\n  filter type AAAA\n }\n whoami\n}")
    assert outcome(h, "x.", "AAAA", "10.0.0.1") == "NODATA"
    assert outcome(h, "x.", "AAAA", "fd00::1") == "NODATA"
    assert outcome(h, "x.", "A", "10.0.0.1") == "ANSWERED"


def test_ipv6_networks_and_single_addresses() -> None:
    h = acl_only(
        """\
        . {
            acl {
                block net 2001:db8:1::/48
                drop net fd00::53
                filter net 10.0.0.9
            }
            whoami
        }
        """
    )
    assert outcome(h, "x.", "A", "2001:db8:1:ffff::1") == "REFUSED"
    assert outcome(h, "x.", "A", "2001:db8:2::1") == "ANSWERED"
    assert outcome(h, "x.", "A", "fd00::53") == DROPPED
    assert outcome(h, "x.", "A", "fd00::54") == "ANSWERED"  # a single IPv6 address is a /128
    assert outcome(h, "x.", "A", "10.0.0.9") == "NODATA"
    assert outcome(h, "x.", "A", "10.0.0.10") == "ANSWERED"  # a single IPv4 address is a /32
    assert outcome(h, "x.", "A", "fe80::1%eth0") == "ANSWERED"  # the zone index is ignored


def test_ipv4_clients_seen_on_a_dual_stack_socket_match_ipv4_networks() -> None:
    h = acl_only(". {\n acl {\n  block net 192.0.2.0/24\n }\n}")
    assert outcome(h, "x.", "A", "::ffff:192.0.2.7") == "REFUSED"
    assert outcome(h, "x.", "A", "::ffff:198.51.100.7") == "ANSWERED"


def test_ipv4_networks_do_not_match_ipv6_clients_and_the_reverse() -> None:
    h = chain(". {\n acl {\n  block net 0.0.0.0/0\n  filter net ::/0\n }\n whoami\n}")
    assert outcome(h, "x.", "A", "198.51.100.1") == "REFUSED"
    assert outcome(h, "x.", "A", "2001:db8::1") == "NODATA"


def test_a_host_address_with_a_prefix_stands_for_its_network() -> None:
    h = chain(". {\n acl {\n  block net 10.1.2.3/8\n }\n whoami\n}")  # Go's ParseCIDR masks
    assert outcome(h, "x.", "A", "10.200.0.1") == "REFUSED"


def test_zones_limit_a_rule_to_names_under_them() -> None:
    h = chain(
        """\
        example.org {
            acl a.example.org {
                block net 192.168.1.0/24
            }
            whoami
        }
        """
    )
    assert outcome(h, "a.example.org.", "A", "192.168.1.1") == "REFUSED"
    assert outcome(h, "deep.A.Example.Org.", "A", "192.168.1.1") == "REFUSED"
    assert outcome(h, "b.example.org.", "A", "192.168.1.1") == "ANSWERED"
    assert outcome(h, "xa.example.org.", "A", "192.168.1.1") == "ANSWERED"  # whole labels only


def test_without_zones_a_rule_covers_the_server_blocks_zones() -> None:
    h = chain("example.org example.net {\n acl {\n  block\n }\n whoami\n}")
    assert outcome(h, "www.example.org.", "A", "10.0.0.1") == "REFUSED"
    assert outcome(h, "www.example.net.", "A", "10.0.0.1") == "REFUSED"


def test_an_allow_in_an_earlier_acl_line_ends_the_walk() -> None:
    # CoreDNS keeps every acl line of a block in one plugin: the first match of all of them wins.
    h = chain(
        """\
        . {
            acl {
                allow net 10.0.0.0/8
            }
            acl {
                block
            }
            whoami
        }
        """
    )
    assert outcome(h, "x.", "A", "10.9.9.9") == "ANSWERED"
    assert outcome(h, "x.", "A", "11.9.9.9") == "REFUSED"


def test_a_rule_for_other_zones_is_skipped_and_the_next_rule_decides() -> None:
    h = chain(
        """\
        . {
            acl internal.example {
                allow net 10.0.0.0/8
                block
            }
            acl {
                filter type ANY
            }
            whoami
        }
        """
    )
    assert outcome(h, "db.internal.example.", "A", "10.0.0.1") == "ANSWERED"
    assert outcome(h, "db.internal.example.", "A", "172.16.0.1") == "REFUSED"
    assert outcome(h, "www.example.", "A", "172.16.0.1") == "ANSWERED"
    assert outcome(h, "www.example.", "ANY", "172.16.0.1") == "NODATA"


def test_an_acl_with_no_policies_lets_everything_through() -> None:
    h = chain(". {\n acl\n whoami\n}")
    assert outcome(h, "x.", "A", "10.0.0.1") == "ANSWERED"


def test_an_unparsable_client_address_is_blocked() -> None:
    h = chain(". {\n acl {\n  allow\n }\n whoami\n}")
    assert outcome(h, "x.", "A", "not-an-address") == "REFUSED"


def test_a_block_of_its_own_has_its_own_rules() -> None:
    loaded_text = ". {\n acl {\n  block\n }\n whoami\n}\nexample.org {\n whoami\n}"
    loaded = config.load(corefile.parse(loaded_text), default_port=1053)
    first, second = (s.handler for s in loaded.servers)
    assert outcome(first, "x.", "A", "10.0.0.1") == "REFUSED"
    assert outcome(second, "x.example.org.", "A", "10.0.0.1") == "ANSWERED"


def test_decisions_are_counted_with_coredns_metric_names() -> None:
    h = chain(
        ". {\n acl {\n  block net 10.0.0.1\n  filter net 10.0.0.2\n  drop net 10.0.0.3\n }\n"
        " whoami\n}"
    )
    names = {
        "block": "coredns_acl_blocked_requests_total",
        "filter": "coredns_acl_filtered_requests_total",
        "drop": "coredns_acl_dropped_requests_total",
    }
    zoned = {k: metrics.collector.families[v] for k, v in names.items()}
    allowed = metrics.collector.families["coredns_acl_allowed_requests_total"]
    before = {k: f.values.get(("dns://:1053", ".", ""), 0) for k, f in zoned.items()}
    allowed_before = allowed.values.get(("dns://:1053", ""), 0)
    for source in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        outcome(h, "x.", "A", source)
    for key, family in zoned.items():
        assert family.values[("dns://:1053", ".", "")] == before[key] + 1, key
    assert allowed.values[("dns://:1053", "")] == allowed_before + 1

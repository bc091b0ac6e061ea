"""``forward`` lines parse into the options CoreDNS would take from them, with its defaults and its
error messages (``plugin/forward: Corefile:LINE - Error during parsing: ...``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns import config, corefile, wire
from kdns.errors import CorefileError
from kdns.plugins.forward import setup
from kdns.plugins.forward.options import Options, Upstream


def parse(body: str) -> Options:
    blocks = corefile.parse(". {\n" + body + "\n}\n")
    return setup.parse(blocks[0].directives[0])


def test_defaults_are_coredns_defaults() -> None:
    options = parse("forward . 10.0.0.10")
    assert options == Options(from_zone=".", upstreams=(Upstream("10.0.0.10", 53),))
    assert options.expire == 10.0
    assert options.max_fails == 2
    assert options.health_check == 0.5
    assert options.health_check_rd is True
    assert options.policy == "random"
    assert options.read_timeout == 2.0
    assert options.max_concurrent == 0


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("10.0.0.10", Upstream("10.0.0.10", 53)),
        ("10.0.0.10:1053", Upstream("10.0.0.10", 1053)),
        ("dns://10.0.0.10:1053", Upstream("10.0.0.10", 1053)),
        ("[2001:db8::1]:53", Upstream("2001:db8::1", 53)),
        ("2001:db8::1", Upstream("2001:db8::1", 53)),
        ("[2001:db8::1]", Upstream("2001:db8::1", 53)),
        ("tls://9.9.9.9", Upstream("9.9.9.9", 853, tls=True)),
        ("tls://[2001:db8::1]:8853", Upstream("2001:db8::1", 8853, tls=True)),
    ],
)
def test_to_addresses(to: str, expected: Upstream) -> None:
    assert parse(f"forward . {to}").upstreams == (expected,)


def test_every_option() -> None:
    options = parse(
        """forward Example.ORG 10.0.0.10 10.0.0.11:1053 {
            except a.example.org B.example.org
            except c.example.org
            force_tcp
            prefer_udp
            expire 30s
            max_fails 5
            health_check 2s no_rec domain Health.Example.
            policy sequential
            max_concurrent 1000
            tls_servername dns.example.net
            next NXDOMAIN servfail
            read_timeout 300ms
            failfast_all_unhealthy_upstreams
        }"""
    )
    assert options.from_zone == "example.org."
    assert options.ignored == ("a.example.org.", "b.example.org.", "c.example.org.")
    assert options.force_tcp and options.prefer_udp
    assert options.expire == 30.0
    assert options.max_fails == 5
    assert options.health_check == 2.0
    assert options.health_check_rd is False
    assert options.health_check_domain == "health.example."
    assert options.policy == "sequential"
    assert options.max_concurrent == 1000
    assert options.tls_servername == "dns.example.net"
    assert options.next_rcodes == {wire.NXDOMAIN, wire.SERVFAIL}
    assert options.read_timeout == 0.3
    assert options.failfast_all_unhealthy_upstreams is True


def test_a_resolv_conf_file_gives_its_nameservers_on_port_53(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("# comment\nsearch svc.cluster.local\nnameserver 10.0.0.1\nnameserver ::1\n")
    options = parse(f"forward . {path} 10.0.0.9:5353")
    assert options.upstreams == (
        Upstream("10.0.0.1", 53),
        Upstream("::1", 53),
        Upstream("10.0.0.9", 5353),
    )


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("forward .", 2, "Wrong argument count or unexpected line ending after '.'"),
        ("forward . /no/such/file", 2, 'not an IP address or file: "/no/such/file"'),
        ("forward . example.com", 2, 'not an IP address or file: "example.com"'),
        ("forward . https://1.1.1.1", 2, "'https' is not supported as a destination protocol"),
        ("forward . 10.0.0.1:99999", 2, "invalid port"),
        (
            "forward . " + " ".join(f"10.0.0.{i}" for i in range(16)),
            2,
            "more than 15 TOs configured: 16",
        ),
        ("forward . 10.0.0.1 {\n policy fastest\n}", 3, "unknown policy 'fastest'"),
        ("forward . 10.0.0.1 {\n max_fails -1\n}", 3, "max_fails can't be negative: -1"),
        ("forward . 10.0.0.1 {\n max_fails two\n}", 3, 'parsing "two": invalid syntax'),
        ("forward . 10.0.0.1 {\n expire 10\n}", 3, 'missing unit in duration "10"'),
        ("forward . 10.0.0.1 {\n expire -1s\n}", 3, "expire can't be negative"),
        ("forward . 10.0.0.1 {\n health_check 1s fast\n}", 3, "health_check: unknown option fast"),
        ("forward . 10.0.0.1 {\n health_check 1s domain\n}", 3, "Wrong argument count"),
        ("forward . 10.0.0.1 {\n next NOPE\n}", 3, "'NOPE' is not a valid rcode"),
        ("forward . 10.0.0.1 {\n next\n}", 3, "Wrong argument count"),
        ("forward . 10.0.0.1 {\n force_tcp yes\n}", 3, "Wrong argument count"),
        ("forward . 10.0.0.1 {\n read_timeout 0s\n}", 3, "read_timeout must be positive"),
        ("forward . 10.0.0.1 {\n tls a b c d\n}", 3, "Wrong argument count"),
        ("forward . 10.0.0.1 {\n max_idle_conns 4\n}", 3, "unknown property 'max_idle_conns'"),
    ],
)
def test_errors_name_the_line(body: str, line: int, reason: str) -> None:
    with pytest.raises(CorefileError) as info:
        parse(body)
    assert info.value.line == line
    assert reason in str(info.value)
    assert str(info.value).startswith(f"plugin/forward: Corefile:{line} - Error during parsing: ")


def test_several_forwards_chain_most_specific_zone_first() -> None:
    blocks = corefile.parse(
        ". {\n forward . 10.0.0.1\n forward a.corp.test 10.0.0.3\n"
        " forward corp.test 10.0.0.2\n whoami\n}\n"
    )
    chain = config.load(blocks).servers[0].handler
    zones = []
    while getattr(chain, "name", "") == "forward":
        zones.append(chain.options.from_zone)  # type: ignore[attr-defined]
        chain = chain.next  # type: ignore[attr-defined]
    assert zones == ["a.corp.test.", "corp.test.", "."]
    assert chain.name == "whoami"


def test_tls_files_must_be_readable() -> None:
    blocks = corefile.parse(". {\n forward . tls://10.0.0.1 {\n  tls /no/such/ca.pem\n }\n}\n")
    with pytest.raises(CorefileError, match=r"Corefile:2 - Error during parsing: tls: "):
        config.load(blocks)


def test_the_chain_gets_a_forward_handler() -> None:
    loaded = config.load(corefile.parse(". {\n forward . 10.0.0.1 10.0.0.2\n}\n"))
    handler = loaded.servers[0].handler
    assert handler.name == "forward"
    assert [str(p.addr) for p in handler.proxies] == ["10.0.0.1:53", "10.0.0.2:53"]  # type: ignore[attr-defined]

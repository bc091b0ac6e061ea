"""``kdns.pkg.fall``: CoreDNS's plugin/pkg/fall semantics."""

from __future__ import annotations

import pytest

from kdns import wire
from kdns.pkg import fall


def test_bare_fallthrough_covers_every_name() -> None:
    f = fall.from_args(())
    assert f is fall.ROOT
    assert f.through("anything.example.")
    assert f.through(".")


def test_no_fallthrough_covers_nothing() -> None:
    assert not fall.ZERO.through("example.test.")


def test_listed_zones_cover_themselves_and_names_below() -> None:
    f = fall.from_args(("Example.Test", "other.org."))
    assert f.zones == ("example.test.", "other.org.")
    assert f.through("example.test.")
    assert f.through("a.b.EXAMPLE.test.")
    assert f.through("x.other.org")
    assert not f.through("test.")
    assert not f.through("badexample.test.")


def test_wire_names_are_accepted() -> None:
    f = fall.from_args(("example.test",))
    assert f.through(wire.text_to_name("www.example.test."))
    # A label holding a dot byte is one label: "a\.example" is not under "example".
    assert not f.through(b"\x09a.example\x04test\x00")


@pytest.mark.parametrize(
    ("cidr", "zones"),
    [
        ("10.0.0.0/8", ["10.in-addr.arpa."]),
        ("10.1.2.0/24", ["2.1.10.in-addr.arpa."]),
        ("0.0.0.0/0", ["in-addr.arpa."]),
        ("fd00::/16", ["0.0.d.f.ip6.arpa."]),
        ("10.0.0.0/23", ["0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa."]),
    ],
)
def test_cidrs_stand_for_their_reverse_zones(cidr: str, zones: list[str]) -> None:
    assert fall.normalize(cidr) == zones


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not a..zone"])
def test_bad_zones_are_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        fall.from_args((bad,))


def test_from_directive_reports_the_line() -> None:
    corefile = pytest.importorskip("kdns.corefile")
    d = corefile.Directive("fallthrough", ("a..b",), (), "Corefile", 7, "records")
    with pytest.raises(Exception) as err:
        fall.from_directive(d)
    assert "Corefile:7" in str(err.value)
    assert "invalid zone 'a..b'" in str(err.value)

"""``kdns.pkg.dnsname``: whole-label zone tests agree with a label-list oracle, and the wire and
text forms agree with each other, escaped dots and backslashes included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kdns import wire
from kdns.pkg import dnsname

LABEL = st.binary(min_size=1, max_size=6).map(bytes.lower)
TRICKY = st.sampled_from([b"a", b"b", b"a.b", b"a\\", b"\\", b".", b"*", b"a\\.b"])
LABELS = st.lists(st.one_of(LABEL, TRICKY), max_size=5)


def to_wire(labels: list[bytes]) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"


def oracle_within(name: list[bytes], zone: list[bytes]) -> bool:
    return not zone or name[-len(zone) :] == zone


@given(LABELS, LABELS)
def test_within_compares_whole_labels(name: list[bytes], zone: list[bytes]) -> None:
    assert dnsname.within(to_wire(name), to_wire(zone)) == oracle_within(name, zone)


@given(LABELS, LABELS)
def test_a_suffix_of_a_zone_is_within_it(prefix: list[bytes], zone: list[bytes]) -> None:
    name = to_wire(prefix + zone)
    assert dnsname.within(name, to_wire(zone))
    assert dnsname.within_any(name, {to_wire(zone)})
    assert dnsname.relative(name, to_wire(zone)) == prefix


@given(LABELS, LABELS)
def test_text_form_agrees_with_wire_form(name: list[bytes], zone: list[bytes]) -> None:
    name_text = wire.name_to_text(to_wire(name))
    zone_text = wire.name_to_text(to_wire(zone))
    assert dnsname.text_within(name_text, zone_text) == oracle_within(name, zone)
    assert [wire.text_to_name(x)[1:-1] for x in dnsname.text_labels(name_text)] == name
    if oracle_within(name, zone):
        relative = dnsname.text_relative(name_text, zone_text)
        assert [wire.text_to_name(x)[1:-1] for x in relative] == name[: len(name) - len(zone)]


@given(LABELS, st.lists(LABELS, max_size=6))
def test_longest_finds_the_most_specific_zone(name: list[bytes], zones: list[list[bytes]]) -> None:
    holding = [z for z in zones if oracle_within(name, z)]
    best = to_wire(max(holding, key=len)) if holding else None
    table = {to_wire(z): to_wire(z) for z in zones}
    assert dnsname.longest(to_wire(name), table) == best
    assert dnsname.within_any(to_wire(name), set(table)) == bool(holding)
    texts = [wire.name_to_text(to_wire(z)) for z in zones]
    expected = wire.name_to_text(best) if best is not None else None
    assert dnsname.text_longest(wire.name_to_text(to_wire(name)), texts) == expected


def test_escaped_dots_do_not_split_labels() -> None:
    assert not dnsname.text_within("a\\.b.example.", "b.example.")
    assert dnsname.text_within("a\\.b.example.", "example.")
    assert dnsname.text_within("a\\\\.b.example.", "b.example.")
    assert not dnsname.text_within("a\\\\\\.b.example.", "b.example.")
    assert dnsname.text_labels("a\\.b.example.") == ["a\\.b", "example"]
    assert dnsname.text_relative("x.a\\.b.example.", "example.") == ["x", "a\\.b"]
    assert not dnsname.within(wire.text_to_name("a\\.b.example."), wire.text_to_name("b.example."))


def test_the_root_holds_every_name() -> None:
    assert dnsname.within(wire.text_to_name("a.b."), dnsname.ROOT)
    assert dnsname.within(dnsname.ROOT, dnsname.ROOT)
    assert not dnsname.within(dnsname.ROOT, wire.text_to_name("a."))
    assert dnsname.text_within("a.b.", ".")
    assert dnsname.text_within(".", ".")
    assert not dnsname.text_within(".", "a.")
    assert dnsname.text_labels(".") == []
    assert dnsname.text_relative("a.b.", ".") == ["a", "b"]
    assert dnsname.within_any(b"\x01a\x00", {dnsname.ROOT})


def test_a_name_is_not_within_a_longer_or_unaligned_zone() -> None:
    assert not dnsname.within(wire.text_to_name("b.c."), wire.text_to_name("ab.c."))
    assert not dnsname.text_within("xexample.", "example.")
    assert not dnsname.text_within("example.", "a.example.")


def test_parent_and_ancestors_walk_up_to_the_zone() -> None:
    name = wire.text_to_name("a.b.c.")
    assert dnsname.parent(name) == wire.text_to_name("b.c.")
    assert dnsname.parent(dnsname.ROOT) == dnsname.ROOT
    assert list(dnsname.ancestors(name, wire.text_to_name("c."))) == [
        wire.text_to_name("b.c."),
        wire.text_to_name("c."),
    ]
    assert list(dnsname.ancestors(name, name)) == []
    assert list(dnsname.ancestors(name, wire.text_to_name("x."))) == [
        wire.text_to_name("b.c."),
        wire.text_to_name("c."),
        dnsname.ROOT,
    ]

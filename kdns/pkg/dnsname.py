"""Whole-label comparisons of DNS names: is a name at or below a zone, which zone holds it.

Two forms, never mixed in one call:

- wire names (``bytes``): uncompressed, lower-case, ending in the root byte, the form of
  ``Query.key[:-4]``. Walking length bytes means a label holding a dot byte (``a\\.b``) can
  never fake a zone boundary. The per-query walks look each suffix up in a dict or set, one
  lookup per label, as the server's zone routing always has.
- text names (``str``): absolute, lower-case presentation names with a trailing dot and
  RFC 1035 escapes (``Query.name``, zones as the Corefile gives them). A dot preceded by an
  odd number of backslashes is part of a label, so ``a\\.b.example.`` is two labels. Both
  sides must be spelled the same way: ``\\098`` and ``b`` are not compared as equal (convert
  with ``wire.text_to_name`` when that matters).

The root zone (``b"\\x00"``, ``"."``) contains every name.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from typing import TypeVar

T = TypeVar("T")

ROOT = b"\x00"

# --- wire names ---------------------------------------------------------------------------------


def parent(name: bytes) -> bytes:
    """The name one label up (the root's parent is the root)."""
    return name[name[0] + 1 :] if name[0] else name


def within(name: bytes, zone: bytes) -> bool:
    """True if ``name`` is ``zone`` or below it, comparing whole labels."""
    offset = len(name) - len(zone)
    if offset < 0 or not name.endswith(zone):
        return False
    at = 0
    while at < offset:
        at += name[at] + 1
    return at == offset


def longest(name: bytes, zones: Mapping[bytes, T]) -> T | None:
    """The value of the longest key of ``zones`` that ``name`` is at or below, or None.

    One dict lookup per label of ``name``, most specific first.
    """
    offset = 0
    while True:
        found = zones.get(name[offset:])
        if found is not None:
            return found
        length = name[offset]
        if length == 0:
            return None
        offset += length + 1


def within_any(name: bytes, zones: Container[bytes]) -> bool:
    """True if ``name`` is at or below one of ``zones``: one set lookup per label."""
    offset = 0
    while name[offset:] not in zones:
        length = name[offset]
        if not length:
            return False
        offset += length + 1
    return True


def ancestors(name: bytes, zone: bytes) -> Iterator[bytes]:
    """The names above ``name`` up to and including ``zone`` (up to the root if ``name`` is not
    below ``zone``); nothing for ``name == zone``."""
    while name != zone and name[0]:
        name = parent(name)
        yield name


def relative(name: bytes, zone: bytes) -> list[bytes]:
    """The labels of ``name`` left of ``zone`` (``name`` at or below ``zone``)."""
    out = []
    offset = 0
    end = len(name) - len(zone)
    while offset < end:
        length = name[offset]
        out.append(name[offset + 1 : offset + 1 + length])
        offset += length + 1
    return out


# --- text names ---------------------------------------------------------------------------------


def text_within(name: str, zone: str) -> bool:
    """True if the text ``name`` is ``zone`` or below it, comparing whole labels."""
    if zone == "." or name == zone:
        return True
    cut = len(name) - len(zone) - 1
    return cut > 0 and name[cut] == "." and name.endswith(zone) and not _escaped(name, cut)


def text_longest(name: str, zones: Iterable[str]) -> str | None:
    """The longest (in characters) of ``zones`` that the text ``name`` is at or below, the
    first of equals; None when none holds it."""
    best = None
    for zone in zones:
        if text_within(name, zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best


def text_labels(name: str) -> list[str]:
    """The labels of an absolute text name, escapes kept (``a\\.b.c.`` -> ``a\\.b``, ``c``)."""
    if "\\" not in name:
        return name.split(".")[:-1] if name != "." else []
    out = []
    start = 0
    at = 0
    while at < len(name):
        if name[at] == "\\":
            at += 2
            continue
        if name[at] == ".":
            out.append(name[start:at])
            start = at + 1
        at += 1
    return out


def text_relative(name: str, zone: str) -> list[str]:
    """The labels of the text ``name`` left of ``zone`` (``name`` at or below ``zone``)."""
    if name == zone:
        return []
    if zone == ".":
        return text_labels(name)
    return text_labels(name[: -len(zone)])


def _escaped(text: str, at: int) -> bool:
    """True if the character at ``at`` follows an odd run of backslashes."""
    run = 0
    while at > run and text[at - run - 1] == "\\":
        run += 1
    return run % 2 == 1

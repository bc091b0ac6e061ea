"""Name matchers shared by the ``name``, ``ttl``, ``rcode`` and ``cname`` rules.

Names are matched in presentation form, lower-cased, with a trailing dot, as CoreDNS does
(``plugin.Name`` normalisation): ``exact``, ``prefix``, ``suffix`` and ``substring`` patterns
gain a trailing dot, so ``prefix foo`` matches ``foo.example.`` but not ``foobar.example.``;
``suffix`` has no label boundary on its left; ``regex`` is unanchored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MATCH_TYPES = ("exact", "prefix", "suffix", "substring", "regex")
#: CoreDNS refuses longer patterns (``maxRegexpLen``).
MAX_REGEX = 10000
_GROUP = re.compile(r"\{(\d+)\}")


class BadRule(ValueError):
    """A rule that cannot be set up; the message is the reason shown with file and line."""


def fqdn(name: str) -> str:
    """``name`` lower-cased with a trailing dot."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def compile_regex(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_REGEX:
        raise BadRule(f"regex pattern too long ({len(pattern)} > {MAX_REGEX} characters)")
    try:
        return re.compile(pattern)
    except re.error as err:
        raise BadRule(f"invalid regex pattern {pattern!r}: {err}") from None


def check_groups(regex: re.Pattern[str], template: str) -> None:
    """Refuse ``{N}`` in ``template`` beyond the groups ``regex`` has."""
    for number in _GROUP.findall(template):
        if int(number) > regex.groups:
            raise BadRule(
                f"{template!r} uses {{{number}}} but {regex.pattern!r} has {regex.groups} group(s)"
            )


def fill(template: str, match: re.Match[str]) -> str:
    """``template`` with ``{0}``...``{N}`` replaced by the groups of ``match``."""

    def group(m: re.Match[str]) -> str:
        index = int(m.group(1))
        if index > (match.re.groups):
            return m.group(0)
        return match.group(index) or ""

    return _GROUP.sub(group, template)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One name pattern: ``kind`` is one of ``MATCH_TYPES``."""

    kind: str
    pattern: str
    regex: re.Pattern[str] | None = None

    @classmethod
    def make(cls, kind: str, pattern: str) -> Matcher:
        kind = kind.lower()
        if kind == "regex":
            return cls(kind, pattern, compile_regex(pattern))
        if kind not in MATCH_TYPES:
            raise BadRule(f"unknown match type {kind!r}, want one of {', '.join(MATCH_TYPES)}")
        return cls(kind, fqdn(pattern))

    def matches(self, name: str) -> bool:
        kind = self.kind
        if kind == "exact":
            return name == self.pattern
        if kind == "prefix":
            return name.startswith(self.pattern)
        if kind == "suffix":
            return name.endswith(self.pattern)
        if kind == "substring":
            return self.pattern in name
        assert self.regex is not None
        return self.regex.search(name) is not None


def split_match_type(args: list[str], plain: int) -> tuple[str, list[str]]:
    """The match type and the remaining arguments; ``plain`` arguments alone mean ``exact``."""
    if len(args) > plain and args[0].lower() in MATCH_TYPES:
        return args[0].lower(), args[1:]
    if len(args) > plain:
        raise BadRule(f"unknown match type {args[0]!r}, want one of {', '.join(MATCH_TYPES)}")
    return "exact", args

"""The ``name`` rule and its response side (``answer auto``, ``answer name``, ``answer value``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kdns.plugins.rewrite.matching import BadRule, Matcher, check_groups, compile_regex, fill, fqdn
from kdns.plugins.rewrite.state import NameFn, NameRewrite, State

ANSWER_KINDS = ("auto", "name", "value")


def remap(rewritten: str, original: str) -> NameRewrite:
    """``rewritten`` and names below it become ``original`` and the same names below it.

    CoreDNS compares case-sensitively (coredns/coredns#6915); kdns compares lower-cased names.
    """
    tail = "." + rewritten

    def fn(name: str) -> str:
        low = name.lower()
        if low == rewritten:
            return original
        if low.endswith(tail) and rewritten != ".":
            return low[: -len(tail)] + "." + original
        return name

    return NameRewrite(owner=fn, value=fn)


def suffix_back(to: str, frm: str) -> NameRewrite:
    def fn(name: str) -> str:
        low = name.lower()
        if low.endswith(to):
            return low[: -len(to)] + frm
        return name

    return NameRewrite(owner=fn, value=fn)


def _regex_fn(regex: re.Pattern[str], template: str) -> NameFn:
    def fn(name: str) -> str:
        match = regex.search(name.lower())
        if match is None:
            return name
        return fqdn(fill(template, match))

    return fn


@dataclass(frozen=True, slots=True)
class NameRule:
    mode: str
    matcher: Matcher
    to: str
    auto: bool = False
    answers: tuple[NameRewrite, ...] = ()

    def apply(self, state: State) -> bool:
        name = state.name
        m = self.matcher
        kind = m.kind
        if kind == "regex":
            assert m.regex is not None
            match = m.regex.search(name)
            if match is None:
                return False
            new = fqdn(fill(self.to, match))
        elif not m.matches(name):
            return False
        elif kind == "exact":
            new = self.to
        elif kind == "prefix":
            new = self.to + name[len(m.pattern) :]
        elif kind == "suffix":
            new = name[: -len(m.pattern)] + self.to
        else:
            new = name.replace(m.pattern, self.to)
        if kind == "exact" or (self.auto and kind != "suffix"):
            state.response.names.append(remap(new, name))
        elif self.auto:
            state.response.names.append(suffix_back(self.to, m.pattern))
        state.response.names.extend(self.answers)
        state.name = new
        state.renamed = True
        return True


def parse(mode: str, args: list[str]) -> NameRule:
    """``name [TYPE] FROM TO [answer auto | answer name RE TO | answer value RE TO]...``"""
    if len(args) < 2:
        raise BadRule("name: 2 arguments required (FROM TO), or 3 with a match type")
    if len(args) == 2:
        kind, rest = "exact", args
    else:
        kind, rest = args[0].lower(), args[1:]
        if kind not in ("exact", "prefix", "suffix", "substring", "regex"):
            raise BadRule(
                f"name: unknown match type {args[0]!r}, want exact, prefix, suffix, substring "
                "or regex"
            )
    if len(rest) < 2:
        raise BadRule("name: 2 arguments required after the match type (FROM TO)")
    frm, to, options = rest[0], rest[1], rest[2:]
    matcher = Matcher.make(kind, frm)
    if kind == "regex":
        assert matcher.regex is not None
        check_groups(matcher.regex, to)
    else:
        to = fqdn(to)
    auto, answers = _answer_options(options)
    return NameRule(mode, matcher, to, auto, answers)


def _answer_options(words: list[str]) -> tuple[bool, tuple[NameRewrite, ...]]:
    """``answer auto``, ``answer name RE TO``, ``answer value RE TO``; after the first, the word
    ``answer`` may be left out before ``auto`` and ``value`` (CoreDNS's README), not before
    ``name`` (its setup test rejects a block with a second ``name`` line)."""
    auto = False
    named = False
    answers: list[NameRewrite] = []
    i = 0
    first = True
    while i < len(words):
        word = words[i]
        if word == "answer":
            i += 1
        elif first or word == "name":
            # A bare ``name`` reads as a second name rule, which a block cannot hold.
            raise BadRule(f"unexpected trailing arguments for name rule: {' '.join(words[i:])}")
        first = False
        if i >= len(words):
            raise BadRule("answer: want auto, name RE TO or value RE TO")
        kind = words[i]
        if kind == "auto":
            auto = True
            i += 1
        elif kind in ("name", "value"):
            if len(words) - i < 3:
                raise BadRule(f"answer {kind}: 2 arguments required (REGEX TO)")
            regex = compile_regex(words[i + 1])
            template = words[i + 2]
            check_groups(regex, template)
            fn = _regex_fn(regex, template)
            answers.append(NameRewrite(owner=fn) if kind == "name" else NameRewrite(value=fn))
            named = named or kind == "name"
            i += 3
        else:
            raise BadRule(f"unexpected trailing arguments for name rule: {' '.join(words[i:])}")
    if auto and named:
        raise BadRule("answer auto cannot be combined with answer name")
    return auto, tuple(answers)

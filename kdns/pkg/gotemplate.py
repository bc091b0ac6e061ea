"""The part of Go's ``text/template`` that CoreDNS's template plugin needs.

A template is text with actions ``{{ PIPELINE }}``: a pipeline is commands joined by ``|``, a
command is a function call (``index .Match 1``), a field chain (``.Group.a``), a method call with
arguments (``.Meta "label"``), a literal or a parenthesised pipeline; each command's value is
passed as the last argument of the next. ``{{-`` and ``-}}`` trim the white space next to them,
and ``{{/* ... */}}`` is a comment, all as in Go.

Everything is parsed once (``parse``): a syntax error, an unknown function or a field the data
can never have raises ``TemplateError`` at start-up. Rendering (``Template.render``) can still fail
on the data of one query (an index out of range, a failed ``parseInt``): that raises
``ExecError``. Control structures (``if``, ``range``, ``with``...) and variables are not
implemented and are refused by ``parse`` with a message saying so.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class TemplateError(ValueError):
    """The template text cannot be used (reported at start-up)."""


class ExecError(Exception):
    """The template failed on this data (reported per query)."""


class Struct:
    """A Go struct seen from a template: a missing field is an error, not an empty value.

    A value that is a ``Lazy`` is computed on first access, so data that is dear to build
    (the whole request message) costs nothing unless a template reads it.
    """

    __slots__ = ("_fields", "_text", "_type")

    def __init__(
        self, type_name: str, fields: dict[str, Any], text: Callable[[], str] | None = None
    ) -> None:
        self._type = type_name
        self._fields = fields
        self._text = text

    def __str__(self) -> str:
        return self._text() if self._text is not None else f"{{{self._type}}}"

    def field(self, name: str) -> Any:
        try:
            value = self._fields[name]
        except KeyError:
            raise ExecError(f"can't evaluate field {name} in type {self._type}") from None
        if isinstance(value, Lazy):
            value = value.make()
            self._fields[name] = value
        return value


class Lazy:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


#: Printed for a missing map key, as Go prints an invalid value.
NO_VALUE = "<no value>"


def go_text(value: Any) -> str:
    """``value`` as Go's fmt prints it with %v."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "map[" + " ".join(f"{go_text(k)}:{go_text(v)}" for k, v in items) + "]"
    return str(value)


# --- functions ----------------------------------------------------------------------------------


def _truth(value: Any) -> bool:
    return bool(value) and value != NO_VALUE


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key, "")
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ExecError(f"error calling index: cannot index slice/array with {key!r}")
            if not 0 <= key < len(item):
                raise ExecError(f"error calling index: index out of range: {key}")
            item = item[key]
        else:
            raise ExecError(f"error calling index: can't index item of type {type(item).__name__}")
    return item


def _slice(item: Any, *bounds: Any) -> Any:
    if not isinstance(item, (list, tuple, str)):
        raise ExecError("error calling slice: can't slice item")
    if not all(isinstance(b, int) for b in bounds) or len(bounds) > 2:
        raise ExecError("error calling slice: bad indexes")
    start = bounds[0] if bounds else 0
    end = bounds[1] if len(bounds) > 1 else len(item)
    if not 0 <= start <= end <= len(item):
        raise ExecError(f"error calling slice: index out of range: {start}:{end}")
    return item[start:end]


def _len(item: Any) -> int:
    try:
        return len(item)
    except TypeError:
        raise ExecError(f"error calling len: len of type {type(item).__name__}") from None


_UINT_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def parse_uint(text: Any, base: Any, bits: Any) -> int:
    """Go's ``strconv.ParseUint``: no sign, no spaces; base 0 reads a 0x/0o/0b/0 prefix."""
    if not isinstance(text, str) or not isinstance(base, int) or not isinstance(bits, int):
        raise ExecError("error calling parseInt: wrong argument types")
    bits = bits or 64
    if not 0 < bits <= 64 or not (base == 0 or 2 <= base <= 36):
        raise ExecError(f"error calling parseInt: invalid base {base} or bit size {bits}")
    digits = text.lower()
    if base == 0:
        base = 10
        if digits.startswith(("0x", "0o", "0b")):
            base = {"x": 16, "o": 8, "b": 2}[digits[1]]
            digits = digits[2:]
        elif digits.startswith("0") and len(digits) > 1:
            base = 8
            digits = digits[1:]
        digits = digits.replace("_", "")
    allowed = _UINT_DIGITS[:base]
    if not digits or any(ch not in allowed for ch in digits):
        raise ExecError(
            f'error calling parseInt: strconv.ParseUint: parsing "{text}": invalid syntax'
        )
    value = int(digits, base)
    if value >= 1 << bits:
        raise ExecError(
            f'error calling parseInt: strconv.ParseUint: parsing "{text}": value out of range'
        )
    return value


def _sprint(*args: Any) -> str:
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_text(arg))
    return "".join(out)


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")


def _sprintf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise ExecError("error calling printf: format is not a string")
    values = iter(args)

    def one(m: re.Match[str]) -> str:
        flags, width, precision, verb = m.groups()
        if verb == "%":
            return "%"
        try:
            value = next(values)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        spec = flags.replace("#", "") + width + (f".{precision}" if precision else "")
        if verb in "dxXobc" and isinstance(value, int) and not isinstance(value, bool):
            return (
                format(value, spec + ("" if verb == "c" else verb)) if verb != "c" else chr(value)
            )
        if verb == "q":
            return format(
                '"' + go_text(value).replace("\\", "\\\\").replace('"', '\\"') + '"', spec
            )
        if verb in "sv":
            return format(go_text(value), spec)
        return f"%!{verb}({go_text(value)})"

    return _VERB.sub(one, fmt)


def _compare(name: str, op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def fn(a: Any, b: Any) -> bool:
        if type(a) is not type(b) and not (isinstance(a, int) and isinstance(b, int)):
            raise ExecError(f"error calling {name}: incompatible types for comparison")
        return op(a, b)

    return fn


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise ExecError("error calling eq: missing argument for comparison")
    return any(a == b for b in others)


def _and(*args: Any) -> Any:
    for arg in args:
        if not _truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if _truth(arg):
            return arg
    return args[-1]


def _html(*args: Any) -> str:
    return html.escape(_sprint(*args)).replace("&quot;", "&#34;").replace("&#x27;", "&#39;")


#: Go's text/template built-ins kdns implements (``call`` and ``js`` are left out).
BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda a: not _truth(a),
    "index": _index,
    "slice": _slice,
    "len": _len,
    "print": _sprint,
    "printf": _sprintf,
    "println": lambda *a: " ".join(go_text(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _compare("lt", lambda a, b: a < b),
    "le": _compare("le", lambda a, b: a <= b),
    "gt": _compare("gt", lambda a, b: a > b),
    "ge": _compare("ge", lambda a, b: a >= b),
    "html": _html,
    "urlquery": lambda *a: urllib.parse.quote_plus(_sprint(*a)),
}

# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    chain: tuple[str, ...]  # () is the dot itself


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Func:
    name: str


@dataclass(frozen=True, slots=True)
class _Sub:
    pipeline: tuple[tuple[Any, ...], ...]


_Pipeline = tuple[tuple[Any, ...], ...]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<pipe>\|)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<char>'(?:[^'\\\n]|\\.)+')
    | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+))
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    | (?P<var>\$[A-Za-z0-9_]*)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<declare>:?=)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    ("if", "else", "end", "range", "with", "define", "template", "block", "break", "continue")
)
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_SPACE = " \t\r\n"


def _unescape(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group()[1:]
        if esc[0] in "xuU":
            return chr(int(esc[1:], 16))
        if esc[0].isdigit():
            return chr(int(esc, 8))
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc in "\\\"'":
            return esc
        raise TemplateError(f"unknown escape sequence \\{esc}")

    return _ESCAPE.sub(one, body)


def _number(text: str) -> Any:
    clean = text.replace("_", "")
    try:
        if clean.lower().lstrip("+-").startswith("0x"):
            return int(clean, 16)
        if any(c in clean for c in ".eE"):
            return float(clean)
        return int(clean, 10)
    except ValueError:
        raise TemplateError(f"bad number syntax: {text!r}") from None


class _ActionParser:
    def __init__(self, source: str, functions: Collection[str], fields: Collection[str] | None):
        self.tokens = self._lex(source)
        self.pos = 0
        self.functions = functions
        self.fields = fields
        self.used: set[str] = set()

    @staticmethod
    def _lex(source: str) -> list[tuple[str, str]]:
        tokens = []
        pos = 0
        while pos < len(source):
            m = _TOKEN.match(source, pos)
            if m is None:
                raise TemplateError(f"unexpected {source[pos]!r} in command")
            kind = m.lastgroup or ""
            if kind != "space":
                tokens.append((kind, m.group()))
            pos = m.end()
        return tokens

    def parse(self) -> _Pipeline:
        if not self.tokens:
            raise TemplateError("missing value for command")
        kind, text = self.tokens[0]
        if kind == "ident" and text in _KEYWORDS:
            raise TemplateError(f"{{{{{text}}}}} is not supported by kdns's template evaluator")
        pipeline = self._pipeline()
        if self.pos != len(self.tokens):
            raise TemplateError(f"unexpected {self.tokens[self.pos][1]!r} in operand")
        return pipeline

    def _pipeline(self) -> _Pipeline:
        commands = [self._command()]
        while self.pos < len(self.tokens) and self.tokens[self.pos][0] == "pipe":
            self.pos += 1
            commands.append(self._command())
        return tuple(commands)

    def _command(self) -> tuple[Any, ...]:
        operands = []
        while self.pos < len(self.tokens):
            kind, text = self.tokens[self.pos]
            if kind in ("pipe", "rparen"):
                break
            self.pos += 1
            operands.append(self._operand(kind, text))
        if not operands:
            raise TemplateError("missing value for command")
        return tuple(operands)

    def _operand(self, kind: str, text: str) -> Any:
        if kind == "field":
            chain = tuple(text.split(".")[1:]) if text != "." else ()
            if chain:
                self._check_field(chain[0])
            return _Field(chain)
        if kind == "string":
            return _Literal(_unescape(text[1:-1]))
        if kind == "raw":
            return _Literal(text[1:-1])
        if kind == "char":
            value = _unescape(text[1:-1])
            if len(value) != 1:
                raise TemplateError(f"malformed character constant: {text}")
            return _Literal(ord(value))
        if kind == "number":
            return _Literal(_number(text))
        if kind == "ident":
            if text in ("true", "false"):
                return _Literal(text == "true")
            if text == "nil":
                raise TemplateError("nil is not a command")
            if text in _KEYWORDS:
                raise TemplateError(f"unexpected {text!r} in operand")
            if text not in self.functions:
                raise TemplateError(f'function "{text}" not defined')
            return _Func(text)
        if kind == "lparen":
            inner = self._pipeline()
            if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "rparen":
                raise TemplateError("unclosed left paren")
            self.pos += 1
            return _Sub(inner)
        if kind == "var":
            raise TemplateError(
                f"variables ({text}) are not supported by kdns's template evaluator"
            )
        raise TemplateError(f"unexpected {text!r} in operand")

    def _check_field(self, name: str) -> None:
        if self.fields is not None and name not in self.fields:
            raise TemplateError(f"can't evaluate field {name}")
        self.used.add(name)


class Template:
    """A parsed template: render it with ``render(data)``."""

    __slots__ = ("_functions", "_parts", "fields", "source")

    def __init__(
        self,
        source: str,
        parts: Sequence[str | _Pipeline],
        functions: Mapping[str, Callable[..., Any]],
        fields: frozenset[str],
    ) -> None:
        self.source = source
        self._parts = tuple(parts)
        self._functions = functions
        #: The top-level fields the template reads (``Name``, ``Remote``...).
        self.fields = fields

    @property
    def is_static(self) -> bool:
        """True when the template has no actions: its text is its output."""
        return all(isinstance(p, str) for p in self._parts)

    def render(self, data: Any) -> str:
        """The text for ``data``; raises ``ExecError`` when an action fails on it."""
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(go_text(self._pipeline(part, data)))
        return "".join(out)

    def _pipeline(self, pipeline: _Pipeline, data: Any) -> Any:
        value: Any = _MISSING
        for command in pipeline:
            value = self._command(command, data, value)
        return value

    def _command(self, command: tuple[Any, ...], data: Any, piped: Any) -> Any:
        head, args = command[0], command[1:]
        extra = () if piped is _MISSING else (piped,)
        if isinstance(head, _Func):
            values = [self._value(a, data) for a in args] + list(extra)
            try:
                return self._functions[head.name](*values)
            except ExecError:
                raise
            except (TypeError, ValueError, KeyError, IndexError) as err:
                raise ExecError(f"error calling {head.name}: {err}") from None
        if isinstance(head, _Field):
            value = self._value(head, data)
            if not callable(value):
                if args or extra:
                    name = ".".join(("", *head.chain))
                    raise ExecError(f"{name} is not a method but has arguments")
                return value
            values = [self._value(a, data) for a in args] + list(extra)
            try:
                return value(*values)
            except TypeError as err:
                raise ExecError(f"wrong number of args: {err}") from None
        if args or extra:
            raise ExecError(f"can't give argument to non-function {head!r}")
        return self._value(head, data)

    def _value(self, operand: Any, data: Any) -> Any:
        if isinstance(operand, _Literal):
            return operand.value
        if isinstance(operand, _Sub):
            return self._pipeline(operand.pipeline, data)
        if isinstance(operand, _Func):
            return self._functions[operand.name]()
        value = data
        for name in operand.chain:
            if isinstance(value, Struct):
                value = value.field(name)
            elif isinstance(value, dict):
                value = value.get(name)
            elif value is None:
                raise ExecError(f"nil pointer evaluating .{name}")
            else:
                raise ExecError(f"can't evaluate field {name} in type {type(value).__name__}")
        return value


_MISSING = object()


def parse(
    source: str,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    fields: Collection[str] | None = None,
) -> Template:
    """Parse ``source``. ``functions`` are added to the built-ins; ``fields``, when given, are
    the only top-level fields a chain may start with.

    :raises TemplateError: for a syntax error, an unknown function or field, or a construct
        this evaluator does not implement.
    """
    funcs = dict(BUILTINS)
    funcs.update(functions or {})
    parts: list[str | _Pipeline] = []
    used: set[str] = set()
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            parts.append(source[pos:])
            break
        text = source[pos:start]
        inner = start + 2
        if source.startswith("-", inner) and source[inner + 1 : inner + 2] in tuple(_SPACE):
            text = text.rstrip(_SPACE)
            inner += 2
        parts.append(text)
        end, body = _action_end(source, inner)
        trim_right = body.endswith("-") and body[-2:-1] in tuple(_SPACE)
        if trim_right:
            body = body[:-2]
        pos = end + 2
        if trim_right:
            while pos < len(source) and source[pos] in _SPACE:
                pos += 1
        stripped = body.strip(_SPACE)
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError("comment ends before closing delimiter")
            continue
        parser = _ActionParser(body, funcs, fields)
        parts.append(parser.parse())
        used |= parser.used
    return Template(source, [p for p in parts if p != ""], funcs, frozenset(used))


def _action_end(source: str, pos: int) -> tuple[int, str]:
    """Where the action that starts at ``pos`` ends (the index of its ``}}``), and its body."""
    quote = ""
    i = pos
    while i < len(source):
        ch = source[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif source.startswith("/*", i):
            close = source.find("*/", i + 2)
            if close < 0:
                raise TemplateError("unclosed comment")
            i = close + 2
            continue
        elif source.startswith("}}", i):
            return i, source[pos:i]
        i += 1
    raise TemplateError("unclosed action")

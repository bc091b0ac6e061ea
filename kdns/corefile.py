"""Read a Corefile into server blocks, with the grammar CoreDNS inherits from Caddy v1.

CoreDNS hands its Corefile to coredns/caddy's ``caddyfile`` package, which only groups tokens into
flat per-directive segments and leaves every plugin to walk them with a dispenser. Here the same
grammar (keys, braces, quotes, comments, ``{$ENV}``, snippets, ``import``) is turned into a tree of
`Directive` lines instead, each carrying its file and line, so the plugin layer can validate names
and options and report errors the way CoreDNS does (``Corefile:3 - Error during parsing: ...``).

Where CoreDNS would silently misread a layout (a ``{`` on its own line after a directive, a block
on one line, an unterminated quote) this module reports an error with the line instead; the
wording follows Caddy's where Caddy has one.
"""

import dataclasses
import glob
import ipaddress
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping

from kdns import errors

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Directive:
    """One Corefile line: a directive, or an option inside a directive's block."""

    name: str
    args: tuple[str, ...]
    block: tuple["Directive", ...]
    file: str
    line: int
    plugin: str
    # True when a `{ }` followed the line, even an empty one: only then can `no_block` tell
    # `whoami {` + `}` (an error in CoreDNS) from plain `whoami`. Kept out of equality and repr
    # so that it never surprises a comparison.
    has_block: bool = dataclasses.field(default=False, compare=False, repr=False)

    def error(self, reason: str) -> errors.CorefileError:
        return errors.CorefileError(reason, file=self.file, line=self.line, plugin=self.plugin)

    def arg_error(self) -> errors.CorefileError:
        last = self.args[-1] if self.args else self.name
        return self.error(f"Wrong argument count or unexpected line ending after '{last}'")

    def unknown_property(self) -> errors.CorefileError:
        return self.error(f"unknown property '{self.name}'")

    def expect_args(self, min: int, max: int | None = None) -> tuple[str, ...]:
        count = len(self.args)
        if count < min or (max is not None and count > max):
            raise self.arg_error()
        return self.args

    def no_block(self) -> None:
        if self.has_block or self.block:
            raise self.error(f"Unexpected token '{{', '{self.name}' takes no block")


@dataclasses.dataclass(frozen=True, slots=True)
class ServerKey:
    """One zone a server block serves; a reverse CIDR key may give several."""

    text: str
    scheme: str
    zone: str
    port: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class ServerBlock:
    keys: tuple[ServerKey, ...]
    directives: tuple[Directive, ...]
    file: str
    line: int


def parse(
    text: str, *, filename: str = "Corefile", env: Mapping[str, str] | None = None
) -> list[ServerBlock]:
    """Parse Corefile text; relative imports resolve against the directory of ``filename``.

    :raises kdns.errors.CorefileError: on any syntax, key or import problem, with file and line.
    """
    environ = os.environ if env is None else env
    root = (os.path.abspath(filename),)
    tokens = _lex(text.removeprefix("\ufeff"), file=filename, env=environ, chain=root)
    return _Parser(tokens, env=environ).parse_all()


def load(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> list[ServerBlock]:
    """Read and parse the Corefile at ``path``; errors name the file as ``path`` was given.

    :raises kdns.errors.ConfigError: if the file cannot be read.
    :raises kdns.errors.CorefileError: as `parse` does.
    """
    filename = os.fspath(path)
    try:
        text = _read(filename)
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ConfigError(f"cannot read {filename}: {_reason(exc)}") from exc
    return parse(text, filename=filename, env=env)


# --- lexer -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    text: str
    file: str
    line: int
    newline: bool  # first token of its line
    literal: bool  # quoted or substituted, so never a brace or an `import`
    chain: tuple[str, ...]  # root file, then each file or (snippet) imported to reach this token

    def is_symbol(self, symbol: str) -> bool:
        return not self.literal and self.text == symbol


# Every character starts exactly one alternative, so finditer never skips input. As in Caddy v1,
# a quote opens a string only at the start of a token, `#` starts a comment anywhere outside
# quotes, and inside quotes only `\"` is an escape (other backslashes are kept).
_LEX_RE = re.compile(
    r"""
    (?P<newline>\n)
    | (?P<space>[^\S\n]+)
    | (?P<comment>\#[^\n]*)
    | (?P<quoted>"[^"\\]*(?:\\.[^"\\]*)*")
    | (?P<bare>[^\s\#"][^\s\#]*)
    | (?P<unterminated>")
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPED_QUOTE_RE = re.compile(r"\\(.)", re.DOTALL)
# {$VAR} and {%VAR%} are CoreDNS's (coredns/caddy); {env.VAR} is Caddy v2's spelling.
_ENV_RE = re.compile(r"\{\$([^{}]+)\}|\{env\.([^{}]+)\}|\{%([^{}%]+)%\}")


def _lex(text: str, *, file: str, env: Mapping[str, str], chain: tuple[str, ...]) -> list[_Token]:
    tokens: list[_Token] = []
    line = 1
    last_line = 0  # the line the previous token ended on
    for match in _LEX_RE.finditer(text):
        kind, raw = match.lastgroup, match.group()
        if kind == "newline":
            line += 1
            continue
        if kind in ("space", "comment"):
            continue
        if kind == "unterminated":
            raise errors.CorefileError("Unterminated quoted string", file=file, line=line)
        quoted = kind == "quoted"
        value = _unquote(raw) if quoted else raw
        # Substituting per token, after lexing, is what CoreDNS does: a value with spaces or
        # braces stays one literal token.
        text_ = _substitute_env(value, env)
        literal = quoted or text_ != value
        tokens.append(_Token(text_, file, line, line > last_line, literal, chain))
        if quoted:
            line += raw.count("\n")
        last_line = line
    return tokens


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPED_QUOTE_RE.sub(lambda m: '"' if m[1] == '"' else m[0], body)


def _substitute_env(value: str, env: Mapping[str, str]) -> str:
    if "{" not in value:
        return value
    return _ENV_RE.sub(lambda m: env.get(m[m.lastindex or 0], ""), value)


# --- parser ------------------------------------------------------------------------------------

_MAX_EXPANSIONS = 1000  # coredns/caddy's cap on snippet (and on file) imports per parse
_ARG_RE = re.compile(r"\{args\[([^\]]*)\]\}")
_VARIADIC_RE = re.compile(r"\{args\[(\d*):(\d*)\]\}")
_NO_OPENING_BRACE = "Unexpected '}' because no matching opening brace"


def _error(token: _Token, reason: str) -> errors.CorefileError:
    return errors.CorefileError(reason, file=token.file, line=token.line)


class _Parser:
    """Walks one token list, splicing imports into it as Caddy's parser does."""

    def __init__(self, tokens: list[_Token], *, env: Mapping[str, str]) -> None:
        self._tokens = tokens
        self._pos = 0
        self._env = env
        self._snippets: dict[str, list[_Token]] = {}
        self._expansions = {"snippet": 0, "file": 0}
        self._served: dict[tuple[str, str, int | None], _Token] = {}

    def parse_all(self) -> list[ServerBlock]:
        blocks: list[ServerBlock] = []
        while (token := self._peek()) is not None:
            if token.is_symbol("}"):
                raise _error(token, _NO_OPENING_BRACE)
            keys = self._keys()
            if not keys:
                if (after := self._peek()) is None:
                    break
                raise _error(after, f"Expected a server block key (a zone) before '{after.text}'")
            name = _snippet_name(keys)
            if name is None:
                blocks.append(self._server_block(keys))
            else:
                self._define_snippet(name, keys[0])
        return blocks

    # token access

    def _peek(self) -> _Token | None:
        """The next token, after expanding any `import` line that starts here."""
        while self._pos < len(self._tokens):
            token = self._tokens[self._pos]
            if not (token.newline and token.is_symbol("import")):
                return token
            self._expand_import()
        return None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:  # callers peek first
            raise AssertionError("no token left")
        self._pos += 1
        return token

    def _same_line(self) -> _Token | None:
        """The next token if it continues the current line (never an import to expand)."""
        if self._pos < len(self._tokens) and not self._tokens[self._pos].newline:
            return self._tokens[self._pos]
        return None

    def _expect_line_end(self, token: _Token) -> None:
        if (after := self._same_line()) is not None:
            raise _error(after, f"Unexpected next token after '{token.text}' on same line")

    # server blocks and snippets

    def _keys(self) -> list[_Token]:
        """Key tokens up to `{` or the end of the line; a trailing comma continues the list."""
        if (first := self._peek()) is None or first.is_symbol("{"):
            return []
        keys: list[_Token] = []
        token = self._take()
        while True:
            parts = token.text.split(",")
            keys.extend(dataclasses.replace(token, text=part) for part in parts if part)
            expecting_another = token.text.endswith(",")
            after = self._same_line()
            if after is None:
                if not expecting_another:
                    return keys
                if (after := self._peek()) is None:
                    raise _error(token, "Unexpected EOF")
            if after.is_symbol("{"):
                if expecting_another:
                    raise _error(
                        after, "Expected another address but had '{' - check for extra comma"
                    )
                return keys
            if after.is_symbol("}"):
                raise _error(after, _NO_OPENING_BRACE)
            token = self._take()

    def _define_snippet(self, name: str, key: _Token) -> None:
        if name in self._snippets:
            raise _error(key, f"redeclaration of previously declared snippet {name}")
        brace = self._peek()
        if brace is None or not brace.is_symbol("{"):
            found = "EOF" if brace is None else f"token '{brace.text}'"
            raise _error(brace or key, f"Unexpected {found}, expecting '{{' after snippet {name}")
        self._pos += 1
        body: list[_Token] = []
        depth = 1
        # Raw tokens: imports inside a snippet expand where the snippet is used, not here.
        while self._pos < len(self._tokens):
            token = self._tokens[self._pos]
            self._pos += 1
            if token.is_symbol("{"):
                depth += 1
            elif token.is_symbol("}"):
                depth -= 1
                if depth == 0:
                    self._snippets[name] = body
                    return
            body.append(token)
        raise _error(brace, _never_closed())

    def _server_block(self, key_tokens: list[_Token]) -> ServerBlock:
        # Only a zone given twice in one block is an error here; across blocks it depends on
        # their `bind` addresses, which ``config.load`` checks once set-up has resolved them.
        self._served = {}
        keys = tuple(self._register(token) for token in key_tokens)
        brace = self._peek()
        if brace is not None and brace.is_symbol("{"):
            self._pos += 1
            self._expect_line_end(brace)
            directives, _ = self._block_body(brace, plugin=None)
        else:
            # Caddy lets a block without braces run to the end of the file.
            directives = self._lines_to_eof()
        first = key_tokens[0]
        return ServerBlock(tuple(k for ks in keys for k in ks), directives, first.file, first.line)

    def _register(self, token: _Token) -> list[ServerKey]:
        keys = _server_keys(token)
        for key in keys:
            served = (key.scheme, key.zone, key.port)
            if (earlier := self._served.get(served)) is not None:
                raise _error(
                    token,
                    f"cannot serve {_address(key)} - zone already defined at "
                    f"{earlier.file}:{earlier.line}",
                )
            self._served[served] = token
        return keys

    # directives

    def _block_body(
        self, opening: _Token, *, plugin: str | None
    ) -> tuple[tuple[Directive, ...], _Token]:
        lines: list[Directive] = []
        while (token := self._peek()) is not None:
            if token.is_symbol("}"):
                self._pos += 1
                return tuple(lines), token
            lines.append(self._directive(plugin))
        raise _error(opening, _never_closed())

    def _lines_to_eof(self) -> tuple[Directive, ...]:
        lines: list[Directive] = []
        while (token := self._peek()) is not None:
            if token.is_symbol("}"):
                raise _error(token, _NO_OPENING_BRACE)
            lines.append(self._directive(None))
        return tuple(lines)

    def _directive(self, plugin: str | None) -> Directive:
        name = self._take()
        if name.is_symbol("{"):
            raise _error(
                name,
                "Unexpected '{' on a new line; did you mean to place the '{' on the previous line?",
            )
        owner = plugin or name.text
        args: list[str] = []
        while (token := self._same_line()) is not None:
            self._pos += 1
            if token.is_symbol("{"):
                self._expect_line_end(token)
                block, closing = self._block_body(token, plugin=owner)
                self._expect_line_end(closing)
                return Directive(
                    name.text, tuple(args), block, name.file, name.line, owner, has_block=True
                )
            if token.is_symbol("}"):
                raise _error(token, "Unexpected '}' at the end of a line; put it on its own line")
            if token.is_symbol("{}") and self._same_line() is None:
                raise _error(token, "Unexpected '{}' at end of line")
            args.append(token.text)
        return Directive(name.text, tuple(args), (), name.file, name.line, owner)

    # imports

    def _expand_import(self) -> None:
        """Replace the `import` line at the cursor with the tokens it names."""
        start = self._pos
        keyword = self._tokens[start]
        end = start + 1
        while end < len(self._tokens) and not self._tokens[end].newline:
            end += 1
        words = self._tokens[start + 1 : end]
        if not words:
            raise _error(keyword, "Wrong argument count or unexpected line ending after 'import'")
        for word in words:
            if word.is_symbol("{") or word.is_symbol("}"):
                raise _error(word, f"Unexpected '{word.text}' in import")
        pattern, args = words[0].text, [word.text for word in words[1:]]
        if not pattern:
            raise _error(keyword, "Import requires a non-empty filepath")
        if pattern in self._snippets:
            self._count(keyword, "snippet")
            chain = _enter(keyword, f"({pattern})")
            expansion = _instantiate(self._snippets[pattern], args, chain)
        else:
            self._count(keyword, "file")
            expansion = self._import_files(keyword, pattern, args)
        self._tokens[start:end] = expansion

    def _count(self, keyword: _Token, kind: str) -> None:
        self._expansions[kind] += 1
        if self._expansions[kind] > _MAX_EXPANSIONS:
            raise _error(keyword, f"maximum {kind} import depth ({_MAX_EXPANSIONS}) exceeded")

    def _import_files(self, keyword: _Token, pattern: str, args: list[str]) -> list[_Token]:
        base = os.path.dirname(os.path.abspath(keyword.file))
        path = os.path.join(base, pattern)  # an absolute pattern stays as it is
        if any(c in pattern for c in "*?["):
            files = _glob_files(keyword, pattern, path)
        elif not os.path.exists(path):
            raise _error(keyword, f"File to import not found: {pattern}")
        elif os.path.isdir(path):
            raise _error(keyword, f"Could not import {pattern}: is a directory")
        else:
            files = [path]
        tokens: list[_Token] = []
        for file in files:
            name = os.path.abspath(file)
            chain = _enter(keyword, name)
            try:
                text = _read(name)
            except (OSError, UnicodeDecodeError) as exc:
                raise _error(keyword, f"Could not import {file}: {_reason(exc)}") from exc
            lexed = _lex(text.removeprefix("\ufeff"), file=name, env=self._env, chain=chain)
            tokens.extend(_instantiate(lexed, args, chain))
        return tokens


def _glob_files(keyword: _Token, pattern: str, path: str) -> list[str]:
    if pattern.count("*") > 1 or pattern.count("?") > 1 or ("[" in pattern and "]" in pattern):
        # coredns/caddy refuses these: a pattern with many expansions can take too long.
        raise _error(
            keyword, f"Glob pattern may only contain one wildcard (*), but has others: {pattern}"
        )
    # Go's filepath.Glob lets `*` match dotfiles too. Directories are skipped rather than failed
    # on, so `import dir/*` works on a Kubernetes ConfigMap volume and its `..data` link.
    matches = sorted(glob.glob(path, include_hidden=True))
    files = [match for match in matches if not os.path.isdir(match)]
    if not files:
        _log.warning("No files matching import glob pattern: %s", pattern)
    return files


def _enter(keyword: _Token, node: str) -> tuple[str, ...]:
    if node in keyword.chain:
        cycle = " -> ".join((*keyword.chain, node))
        raise _error(keyword, f"import cycle: {cycle}")
    return (*keyword.chain, node)


def _instantiate(body: Iterable[_Token], args: list[str], chain: tuple[str, ...]) -> list[_Token]:
    """Copy imported tokens, filling in `{args[N]}` and `{args[A:B]}` placeholders.

    The first token always starts a line, so a snippet body never runs on from the line before.
    """
    tokens: list[_Token] = []
    pending_newline = True
    for token in body:
        newline = token.newline or pending_newline
        values = _fill_args(token, args)
        for index, value in enumerate(values):
            literal = token.literal or value != token.text
            tokens.append(
                _Token(value, token.file, token.line, newline and index == 0, literal, chain)
            )
        pending_newline = newline and not values
    return tokens


def _fill_args(token: _Token, args: list[str]) -> list[str]:
    text = token.text
    if "{args[" not in text:
        return [text]
    if (variadic := _VARIADIC_RE.fullmatch(text)) is not None:
        start = int(variadic[1] or 0)
        stop = int(variadic[2]) if variadic[2] else len(args)
        if not start <= stop <= len(args):
            raise _error(
                token,
                f"Variadic placeholder {text} indices are out of bounds, "
                f"only {len(args)} argument(s) exist",
            )
        return args[start:stop]

    def one(match: re.Match[str]) -> str:
        index = match[1]
        if ":" in index:
            raise _error(token, f"Variadic placeholder {match[0]} must be a token on its own")
        if not (index.isascii() and index.isdigit()):
            raise _error(token, f"Placeholder {match[0]} has an invalid index")
        if int(index) >= len(args):
            raise _error(
                token,
                f"Placeholder {match[0]} index is out of bounds, "
                f"only {len(args)} argument(s) exist",
            )
        return args[int(index)]

    return [_ARG_RE.sub(one, text)]


def _snippet_name(keys: list[_Token]) -> str | None:
    if len(keys) == 1 and keys[0].text.startswith("(") and keys[0].text.endswith(")"):
        return keys[0].text[1:-1]
    return None


def _never_closed() -> str:
    return "Unexpected EOF: the '{' on this line is never closed"


# --- server keys -------------------------------------------------------------------------------

_SCHEMES = frozenset({"dns", "tls", "https", "grpc", "quic"})


def _server_keys(token: _Token) -> list[ServerKey]:
    """Split `[SCHEME://]ZONE[:PORT]` as CoreDNS's dnsserver/register.go does."""
    text = token.text
    if "{" in text or "}" in text:
        raise _error(
            token, f"Unexpected brace in key '{text}' - put a space between the key and the brace"
        )
    scheme, separator, rest = text.partition("://")
    if separator:
        scheme = scheme.lower()
        if scheme not in _SCHEMES:
            raise _error(token, f"unknown scheme '{scheme}' in '{text}'")
    else:
        scheme, rest = "dns", text
    host, port = _split_port(token, rest)
    zones = _reverse_zones(token, host) if "/" in host else [_zone(token, host)]
    return [ServerKey(text, scheme, zone, port) for zone in zones]


def _split_port(token: _Token, hostport: str) -> tuple[str, int | None]:
    # As in CoreDNS: the port is what follows the last colon, so an IPv6 CIDR (its mask always
    # comes after its last colon) needs no brackets.
    host, colon, port = hostport.rpartition(":")
    if not colon:
        return hostport, None
    if not port:
        raise _error(token, f"expecting data after last colon: '{hostport}'")
    if port.isascii() and port.isdigit():
        if int(port) > 65535:
            raise _error(token, f"invalid port '{port}' in '{token.text}'")
        return host, int(port)
    if "/" in hostport and _network(hostport) is not None:
        return hostport, None
    raise _error(token, f"invalid port '{port}' in '{token.text}'")


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _reverse_zones(token: _Token, cidr: str) -> list[str]:
    """The in-addr.arpa/ip6.arpa zones covering ``cidr``, as CoreDNS's plugin/normalize.go.

    A prefix off an octet (IPv4) or nibble (IPv6) boundary is widened to the next boundary and
    split, so 10.0.0.0/12 gives 0.10.in-addr.arpa. through 15.10.in-addr.arpa.
    """
    network = _network(cidr)
    # CoreDNS also refuses IPv6 CIDRs written from a leading ':' or '0'.
    if network is None or cidr.startswith(":") or (cidr.startswith("0") and ":" in cidr):
        raise _error(token, f"invalid CIDR {cidr}")
    step = 8 if network.version == 4 else 4
    boundary = math.ceil(network.prefixlen / step) * step
    subnets = [network] if boundary == network.prefixlen else network.subnets(new_prefix=boundary)
    return [_reverse_zone(subnet, step) for subnet in subnets]


def _reverse_zone(network: ipaddress.IPv4Network | ipaddress.IPv6Network, step: int) -> str:
    labels = network.network_address.reverse_pointer.split(".")
    host_labels = (network.max_prefixlen - network.prefixlen) // step
    return ".".join(labels[host_labels:]) + "."


def _zone(token: _Token, host: str) -> str:
    zone = host.lower()
    if not zone.endswith("."):
        zone += "."
    if len(zone) > 255:
        raise _error(token, f"specified zone is too long: {len(zone)} > 255")
    labels = zone[:-1].split(".") if zone != "." else []
    if any(not label or len(label) > 63 for label in labels):
        raise _error(token, f"zone is not a valid domain name: {host}")
    return zone


def _address(key: ServerKey) -> str:
    port = "" if key.port is None else f":{key.port}"
    return f"{key.scheme}://{key.zone}{port}"


# --- files -------------------------------------------------------------------------------------


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)

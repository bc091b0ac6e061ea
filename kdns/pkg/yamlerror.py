"""Where a YAML syntax error is, for one-line ``FILE:LINE`` messages.

PyYAML marks two places: the problem (where parsing could not go on) and the
context (where the construct being parsed began). An unclosed bracket or quote
runs the parser into the end of the stream, so its problem mark is past the last
line of the file; the line to blame is then the one where the construct began.
"""

from __future__ import annotations

import yaml


def line(err: yaml.MarkedYAMLError, text: bytes | str) -> int | None:
    """The 1-based line of ``text`` to blame for ``err``, or None if it marks none."""
    mark = err.problem_mark
    if mark is not None and not _at_end(mark, text):
        return int(mark.line) + 1
    if err.context_mark is not None:
        return int(err.context_mark.line) + 1
    if mark is None:
        return None
    return _last_content_line(_lines(text)) + 1


def reason(err: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem, with its context in parentheses, on one line."""
    text = err.problem or "malformed YAML"
    if err.context:
        text += f" ({err.context})"
    return " ".join(text.split())


def _lines(text: bytes | str) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text.splitlines()


def _is_blank(text: str) -> bool:
    stripped = text.strip()
    return not stripped or stripped.startswith("#")


def _at_end(mark: yaml.Mark, text: bytes | str) -> bool:
    """True when nothing but blank or comment lines follows ``mark``."""
    lines = _lines(text)
    rest = lines[mark.line][mark.column :] if mark.line < len(lines) else ""
    return _is_blank(rest) and all(_is_blank(later) for later in lines[mark.line + 1 :])


def _last_content_line(lines: list[str]) -> int:
    for number in range(len(lines) - 1, -1, -1):
        if not _is_blank(lines[number]):
            return number
    return 0

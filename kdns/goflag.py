"""Command-line flags read by Go's ``flag`` rules, as CoreDNS's command line reads them.

``-name`` or ``--name``; a value as ``-name=value`` or as the next argument; Go's messages for
what is wrong. Shared by ``kdns`` and ``kdns explain``.
"""

from __future__ import annotations

from kdns.errors import KdnsError


class UsageError(KdnsError):
    """A command line Go's flag package would refuse; an empty message asks for the usage."""


def split(arg: str) -> tuple[str, str | None]:
    """``-name=value`` into (``name``, ``value``); the value is None when there is no ``=``."""
    name, eq, value = arg.lstrip("-").partition("=")
    return name, value if eq else None


def value(name: str, inline: str | None, rest: list[str]) -> str:
    """The flag's value: given with ``=``, else the next argument (taken from ``rest``)."""
    if inline is not None:
        return inline
    if not rest:
        raise UsageError(f"flag needs an argument: -{name}")
    return rest.pop(0)


def integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f'invalid value "{text}" for flag -{name}') from None

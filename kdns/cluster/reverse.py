"""Reverse names (in-addr.arpa, ip6.arpa) to and from addresses."""

from __future__ import annotations

import ipaddress

V4_SUFFIX = ".in-addr.arpa."
V6_SUFFIX = ".ip6.arpa."


def is_reverse(name: str) -> bool:
    return (
        name.endswith(V4_SUFFIX)
        or name.endswith(V6_SUFFIX)
        or name
        in (
            "in-addr.arpa.",
            "ip6.arpa.",
        )
    )


def address(name: str) -> str | None:
    """The address a full reverse name stands for, or None (partial or malformed names)."""
    if name.endswith(V4_SUFFIX):
        labels = name[: -len(V4_SUFFIX)].split(".")
        if len(labels) != 4:
            return None
        try:
            return str(ipaddress.IPv4Address(".".join(reversed(labels))))
        except ValueError:
            return None
    if name.endswith(V6_SUFFIX):
        nibbles = name[: -len(V6_SUFFIX)].split(".")
        if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
            return None
        try:
            return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
        except ValueError:
            return None
    return None


def canonical(ip: str) -> str:
    """The address in its canonical text form (as the store's indexes may hold either)."""
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip

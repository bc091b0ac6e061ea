"""Read the ``nameserver`` lines of a resolv.conf(5) file, as forward's ``TO`` may name one.

This follows miekg/dns's ``ClientConfigFromFile``, which CoreDNS uses: every ``nameserver``
address counts, in file order, and all of them get port 53, because resolv.conf has no way to
say otherwise. ``#`` and ``;`` start comments. Other keywords (``search``, ``options``...) are
read but not used by forward.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

#: resolv.conf has no port syntax; CoreDNS (miekg/dns) uses 53 for every nameserver.
PORT = 53


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = field(default=())


class ResolvConfError(ValueError):
    """The file holds a nameserver line that is not an IP address."""


def parse(text: str) -> ResolvConf:
    """The nameservers, search list and options of resolv.conf ``text``.

    :raises ResolvConfError: for a ``nameserver`` that is not an IP address (glibc skips it
        silently; kdns says so, because forwarding to it could never work).
    """
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0]
        fields = line.split()
        if not fields:
            continue
        keyword, args = fields[0], fields[1:]
        if keyword == "nameserver" and args:
            host = args[0]
            try:
                ipaddress.ip_address(host.split("%", 1)[0])
            except ValueError:
                raise ResolvConfError(f"nameserver {host!r} is not an IP address") from None
            nameservers.append(host)
        elif keyword in ("search", "domain"):
            search = list(args)
        elif keyword == "options":
            options.extend(args)
    return ResolvConf(tuple(nameservers), tuple(search), tuple(options))


def load(path: str) -> ResolvConf:
    """Read and parse the file at ``path``.

    :raises OSError: if it cannot be read.
    :raises ResolvConfError: as `parse` does.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse(f.read())

"""Read ``/etc/hosts``-style text (hosts(5)) into address and name maps.

As CoreDNS's ``hostsfile.go`` (itself Go's ``net/hosts.go``): ``#`` starts a comment, a line
is ``ADDRESS NAME [ALIASES...]``, an IPv6 zone (``%eth0``) is dropped, an IPv4-mapped IPv6
address counts as IPv4, names are lower-cased and made absolute, and names outside the
plugin's zones are skipped. Lines that do not start with an address are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from kdns import wire
from kdns.pkg import dnsname

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class Map:
    """One source's entries. Names are lower-case wire names; addresses keep file order."""

    name4: dict[bytes, list[ipaddress.IPv4Address]] = field(default_factory=dict)
    name6: dict[bytes, list[ipaddress.IPv6Address]] = field(default_factory=dict)
    #: Address -> names, for PTR; empty with ``no_reverse``.
    addr: dict[Address, list[bytes]] = field(default_factory=dict)

    def __len__(self) -> int:
        """CoreDNS's ``Map.Len``: addresses of every name plus names of every address."""
        return (
            sum(map(len, self.name4.values()))
            + sum(map(len, self.name6.values()))
            + sum(map(len, self.addr.values()))
        )


def parse_address(text: str) -> Address | None:
    """The address at the start of a hosts line, or None if it is not one."""
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalize(name: str) -> bytes | None:
    """Lower-case absolute wire form of a host name, or None if it cannot be one."""
    if not name.endswith("."):
        name += "."
    try:
        return wire.text_to_name(name).lower()
    except ValueError:
        return None


def parse(lines: Iterable[str], *, zones: frozenset[bytes], reverse: bool = True) -> Map:
    """The entries of ``lines`` whose names lie within ``zones`` (lower-case wire names)."""
    hosts = Map()
    for raw in lines:
        fields = raw.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        address = parse_address(fields[0])
        if address is None:
            continue
        for text in fields[1:]:
            name = normalize(text)
            if name is None or not dnsname.within_any(name, zones):
                continue
            if isinstance(address, ipaddress.IPv4Address):
                hosts.name4.setdefault(name, []).append(address)
            else:
                hosts.name6.setdefault(name, []).append(address)
            if reverse:
                hosts.addr.setdefault(address, []).append(name)
    return hosts

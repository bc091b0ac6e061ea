"""Which names a plugin hands to the next plugin instead of answering NXDOMAIN.

CoreDNS's ``plugin/pkg/fall``: a bare ``fallthrough`` covers every name (the root zone), and
``fallthrough ZONES...`` only names under those zones. A zone may be written as a reverse CIDR
(``10.0.0.0/8``), which stands for its ``in-addr.arpa``/``ip6.arpa`` zones, as in CoreDNS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kdns import wire
from kdns.pkg import dnsname

if TYPE_CHECKING:
    from kdns import corefile


@dataclass(frozen=True, slots=True)
class Fall:
    """Zones whose NXDOMAINs fall through; no zones means nothing falls through."""

    #: Lower-case presentation names with a trailing dot, e.g. ``("example.test.",)``.
    zones: tuple[str, ...] = ()
    _wire: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        wires = frozenset(wire.text_to_name(z) for z in self.zones)
        object.__setattr__(self, "_wire", wires)

    def through(self, qname: str | bytes) -> bool:
        """True if an NXDOMAIN for ``qname`` (text, or lower-case wire form) should fall through."""
        if not self._wire:
            return False
        name = wire.text_to_name(qname.lower()) if isinstance(qname, str) else qname
        return dnsname.within_any(name, self._wire)


#: No fallthrough: the plugin answers every NXDOMAIN itself.
ZERO = Fall()
#: Bare ``fallthrough``: every name falls through.
ROOT = Fall((".",))


def from_args(args: tuple[str, ...]) -> Fall:
    """The ``Fall`` for ``fallthrough`` with ``args``; no args is `ROOT`.

    :raises ValueError: for an argument that is neither a name nor a CIDR.
    """
    if not args:
        return ROOT
    zones: list[str] = []
    for arg in args:
        zones.extend(normalize(arg))
    return Fall(tuple(dict.fromkeys(zones)))


def from_directive(d: corefile.Directive) -> Fall:
    """Parse a ``fallthrough [ZONES...]`` line; errors carry its file and line."""
    if d.block:
        raise d.arg_error()
    try:
        return from_args(d.args)
    except ValueError as err:
        raise d.error(str(err)) from None


def normalize(zone: str) -> list[str]:
    """``zone`` as lower-case absolute names; a CIDR gives its reverse zones.

    :raises ValueError: if ``zone`` is not a valid name or CIDR.
    """
    if "/" in zone:
        return _reverse_zones(zone)
    name = zone.lower()
    if not name.endswith("."):
        name += "."
    try:
        wire.text_to_name(name)
    except ValueError:
        raise ValueError(f"invalid zone '{zone}'") from None
    return [name]


def _reverse_zones(cidr: str) -> list[str]:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"invalid CIDR '{cidr}'") from None
    # Reverse zones sit on octet (IPv4) or nibble (IPv6) boundaries, so a prefix between two
    # boundaries stands for every zone of the next boundary down, as CoreDNS expands it.
    step = 8 if net.version == 4 else 4
    prefix = -(-net.prefixlen // step) * step
    out = []
    for sub in net.subnets(new_prefix=prefix):
        labels = sub.network_address.reverse_pointer.split(".")
        keep = prefix // step
        suffix = labels[-2:]  # in-addr.arpa / ip6.arpa
        parts = labels[:-2][len(labels) - 2 - keep :] if keep else []
        out.append(".".join([*parts, *suffix]) + ".")
    return out

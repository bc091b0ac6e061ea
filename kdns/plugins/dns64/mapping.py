"""IPv4 addresses embedded in an IPv6 prefix, as RFC 6052 section 2.2 lays them out."""

from __future__ import annotations

import ipaddress

#: Prefix lengths CoreDNS accepts (RFC 6052's six, and 72, 80 and 88 as CoreDNS does).
LENGTHS = frozenset(range(32, 97, 8))
#: Bits 64 to 71 (the "u" octet) stay zero: IPv4 bytes skip it.
U_OCTET = 8


def parse_prefix(text: str) -> ipaddress.IPv6Network:
    """An IPv6 prefix usable for DNS64; ValueError says why not."""
    try:
        network = ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        raise ValueError(f"'{text}' is not a valid IPv6 prefix") from None
    if network.prefixlen not in LENGTHS:
        raise ValueError(
            f"invalid prefix length {network.prefixlen} in '{text}': "
            "it must be a multiple of 8 from 32 to 96"
        )
    return network


def embed(prefix: ipaddress.IPv6Network, ipv4: bytes) -> bytes:
    """The 16 bytes of the IPv6 address that carries ``ipv4`` (4 bytes) under ``prefix``."""
    out = bytearray(prefix.network_address.packed)
    at = prefix.prefixlen // 8
    for byte in ipv4:
        if at == U_OCTET:
            at += 1
        out[at] = byte
        at += 1
    return bytes(out)

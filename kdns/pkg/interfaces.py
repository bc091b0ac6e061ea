"""Addresses of a network interface, read from the kernel (Linux)."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

_SIOCGIFADDR = 0x8915


def names() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def addresses(interface: str) -> list[str]:
    """IPv4 (primary) and IPv6 addresses of ``interface``; link-local v6 ones get a %scope."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(
                s.fileno(), _SIOCGIFADDR, struct.pack("256s", interface[:15].encode())
            )
            out.append(socket.inet_ntoa(packed[20:24]))
        except OSError:
            pass
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[5] == interface:
                    addr = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
                    text = str(addr)
                    if addr.is_link_local:
                        text += f"%{interface}"
                    out.append(text)
    except OSError:
        pass
    return out

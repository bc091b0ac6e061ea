"""Every answer the hosts entries give, rendered once per load.

A and AAAA answers (and the empty NODATA for the family a name lacks) at every name, and PTR
answers at every reverse name, keyed exactly as ``wire.Query.key``. The records are written
straight to wire form: each owner is a compression pointer to the question at offset 12, so
the client's spelling of the name comes back, and no encoder runs. A reload builds a new
``Table``; the handler swaps it in whole.
"""

from __future__ import annotations

import ipaddress
import struct

from kdns import replay, wire
from kdns.plugins.hosts import hostsfile

TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28

_FLAGS = (wire.QR | wire.AA) << 8
#: The ``plugin`` label of the replies (coredns_dns_responses_total).
PLUGIN = "hosts"
_QUESTION = b"\xc0\x0c"
_HEADER = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
_TYPE_CLASS = struct.Struct("!HH")

#: NOERROR, authoritative, no records: a name that exists without the type asked. It does not
#: depend on the question, so one object serves every name.
NODATA = wire.Answer(rcode=wire.NOERROR, body=b"", flags=_FLAGS, plugin=PLUGIN, lease=replay.PURE)


def key(name: bytes, qtype: int) -> bytes:
    return name + _TYPE_CLASS.pack(qtype, wire.CLASS_IN)


def _answer(rtype: int, ttl: int, rdatas: list[bytes]) -> wire.Answer:
    parts = []
    ends = []
    size = 0
    for rdata in rdatas:
        record = _QUESTION + _HEADER.pack(rtype, wire.CLASS_IN, ttl, len(rdata)) + rdata
        parts.append(record)
        size += len(record)
        ends.append(size)
    return wire.Answer(
        rcode=wire.NOERROR,
        body=b"".join(parts),
        counts=(len(rdatas), 0, 0),
        ends=tuple(ends),
        flags=_FLAGS,
        plugin=PLUGIN,
        lease=replay.PURE,
    )


def _unique(items: list[bytes]) -> list[bytes]:
    return list(dict.fromkeys(items))


class Table:
    """The answers of one load: ``hits`` by query key, and the names that exist."""

    __slots__ = ("entries", "hits", "names")

    def __init__(self, maps: list[hostsfile.Map], *, ttl: int) -> None:
        hits: dict[bytes, wire.Answer] = {}
        v4: dict[bytes, list[bytes]] = {}
        v6: dict[bytes, list[bytes]] = {}
        reverse: dict[bytes, list[bytes]] = {}
        for m in maps:  # the file first, then the inline lines, as CoreDNS merges them
            for name, addrs4 in m.name4.items():
                v4.setdefault(name, []).extend(a.packed for a in addrs4)
            for name, addrs6 in m.name6.items():
                v6.setdefault(name, []).extend(a.packed for a in addrs6)
            for address, owners in m.addr.items():
                reverse.setdefault(reverse_name(address), []).extend(owners)
        names = v4.keys() | v6.keys()
        for name in names:
            for qtype, found in ((TYPE_A, v4.get(name)), (TYPE_AAAA, v6.get(name))):
                hits[key(name, qtype)] = _answer(qtype, ttl, _unique(found)) if found else NODATA
        for rname, targets in reverse.items():
            hits[key(rname, TYPE_PTR)] = _answer(TYPE_PTR, ttl, _unique(targets))
        self.hits = hits
        self.names = frozenset(names)
        #: ``coredns_hosts_entries``: CoreDNS's count, over every source.
        self.entries = sum(len(m) for m in maps)


def reverse_name(address: hostsfile.Address) -> bytes:
    """The ``in-addr.arpa``/``ip6.arpa`` wire name of ``address``."""
    return wire.text_to_name(ipaddress.ip_address(address).reverse_pointer + ".")

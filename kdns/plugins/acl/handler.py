"""Serving side of ``acl``: the first policy that matches a query decides what happens to it.

CoreDNS's ``plugin/acl``. The rules of a server block (every ``acl`` line, in order) are
walked; a rule whose zones do not contain the query name is skipped; within a rule, the first
policy whose query types and networks both match the query decides: ``allow`` ends the walk and
passes the query on, ``block`` answers REFUSED, ``filter`` answers NOERROR with no records, and
``drop`` sends nothing. A query no policy matches is allowed.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import socket
from dataclasses import dataclass, field

from kdns import metrics, plugin, wire
from kdns.pkg import dnsname
from kdns.request import Request

log = logging.getLogger("kdns.plugin.acl")


class Action(enum.Enum):
    ALLOW = "allow"
    BLOCK = "block"
    FILTER = "filter"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Networks:
    """Source networks, pre-compiled to (network, mask) integers per address family."""

    v4: tuple[tuple[int, int], ...] = ()
    v6: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Networks:
        v4 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 4]
        v6 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 6]
        return cls(tuple(dict.fromkeys(v4)), tuple(dict.fromkeys(v6)))

    def contains(self, version: int, address: int) -> bool:
        nets = self.v4 if version == 4 else self.v6
        return any(address & mask == net for net, mask in nets)


#: ``net *`` and an omitted ``net``: every IPv4 and every IPv6 client.
EVERYWHERE = Networks(v4=((0, 0),), v6=((0, 0),))


@dataclass(frozen=True, slots=True)
class Policy:
    """One ``ACTION [type QTYPE...] [net SOURCE...]`` line."""

    action: Action
    #: Query types matched; None matches every type (``type *`` or no ``type``).
    qtypes: frozenset[int] | None
    networks: Networks

    def matches(self, qtype: int, version: int, address: int) -> bool:
        if self.qtypes is not None and qtype not in self.qtypes:
            return False
        return self.networks.contains(version, address)


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``acl [ZONES...] { ... }`` directive: its zones and its policies, in order."""

    #: Lower-case names with a trailing dot, e.g. ``("example.org.",)``.
    zones: tuple[str, ...]
    policies: tuple[Policy, ...]
    _wires: dict[bytes, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_wires", {wire.text_to_name(z): z for z in self.zones})

    def zone_of(self, key: bytes) -> str | None:
        """The longest of the zones containing the lower-case wire name ``key``, or None."""
        return dnsname.longest(key, self._wires)


BLOCKED = metrics.family(
    "coredns_acl_blocked_requests_total",
    "Counter of DNS requests being blocked.",
    ("server", "zone", "view"),
)
FILTERED = metrics.family(
    "coredns_acl_filtered_requests_total",
    "Counter of DNS requests being filtered.",
    ("server", "zone", "view"),
)
DROPPED = metrics.family(
    "coredns_acl_dropped_requests_total",
    "Counter of DNS requests being dropped.",
    ("server", "zone", "view"),
)
ALLOWED = metrics.family(
    "coredns_acl_allowed_requests_total",
    "Counter of DNS requests being allowed.",
    ("server", "view"),
)

#: NOERROR with no records and no SOA: what CoreDNS's ``m.SetRcode(r, dns.RcodeSuccess)`` sends.
FILTER_ANSWER = wire.Answer(rcode=wire.NOERROR, body=b"", flags=wire.QR << 8)
BLOCK_ANSWER = wire.Answer.failure(wire.REFUSED)

_MAPPED_PREFIX = 0xFFFF << 32
_ADDRESS_CACHE_SIZE = 4096


def parse_address(text: str) -> tuple[int, int] | None:
    """``(4|6, address as an integer)`` for a client address, or None if it does not parse.

    A zone index (``fe80::1%eth0``) is ignored, and an IPv4-mapped IPv6 address
    (``::ffff:192.0.2.1``, how a dual-stack socket shows an IPv4 client) counts as IPv4, as
    Go's ``net.IP`` does.
    """
    host = text.partition("%")[0]
    try:
        if ":" in host:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET6, host), "big")
            if value >> 32 == 0xFFFF:
                return 4, value - _MAPPED_PREFIX
            return 6, value
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, host), "big")
    except OSError:
        return None


class Acl:
    """Every ``acl`` line of one server block, as a single link of its chain."""

    name = "acl"

    def __init__(self, next: plugin.Handler, rules: list[Rule]) -> None:
        self.next = next
        # The list is shared with setup, which may still append the block's later acl lines.
        self.rules = rules
        self._addresses: dict[str, tuple[int, int] | None] = {}

    def _address(self, text: str) -> tuple[int, int] | None:
        cache = self._addresses
        try:
            return cache[text]
        except KeyError:
            pass
        if len(cache) >= _ADDRESS_CACHE_SIZE:
            cache.clear()
        found = cache[text] = parse_address(text)
        return found

    def decide(self, req: Request) -> tuple[Action, str]:
        """The action for ``req`` and the zone of the rule that took it ("" when none did)."""
        address: tuple[int, int] | None = None
        key = req.key[:-4]
        for rule in self.rules:
            zone = rule.zone_of(key)
            if zone is None:
                continue
            if address is None:
                address = self._address(req.remote[0])
                if address is None:
                    log.error("Blocking request. Unable to parse source address: %s", req.remote[0])
                    return Action.BLOCK, zone
            version, value = address
            for policy in rule.policies:
                if policy.matches(req.qtype, version, value):
                    if policy.action is Action.ALLOW:
                        return Action.ALLOW, ""
                    return policy.action, zone
                # no match: the next policy, then the next rule
        return Action.ALLOW, ""

    def serve(self, req: Request) -> plugin.Result:
        action, zone = self.decide(req)
        if action is Action.ALLOW:
            ALLOWED.inc((req.server, ""))
            return self.next.serve(req)
        if action is Action.BLOCK:
            BLOCKED.inc((req.server, zone, ""))
            return BLOCK_ANSWER
        if action is Action.FILTER:
            FILTERED.inc((req.server, zone, ""))
            return FILTER_ANSWER
        DROPPED.inc((req.server, zone, ""))
        return wire.DROP

"""What a ``loadbalance`` directive says, with CoreDNS's defaults (parsed by ``setup.parse``)."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.plugins.loadbalance.plan import Network


@dataclass(frozen=True, slots=True)
class Options:
    #: Networks whose addresses go first, in this order.
    prefer: tuple[Network, ...] = ()

"""What one ``forward`` line says, with CoreDNS's defaults (parsed by ``setup.parse``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kdns.pkg.upstream import health

#: CoreDNS's limit on upstreams per forward.
MAX_UPSTREAMS = 15
DNS_PORT = 53
TLS_PORT = 853


@dataclass(frozen=True, slots=True)
class Upstream:
    """One **TO**: an address, and whether it speaks DNS over TLS."""

    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return f"tls://{address}" if self.tls else address


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a ``forward`` line says, with CoreDNS's defaults."""

    #: The zone forwarded, lower-case with a trailing dot.
    from_zone: str
    upstreams: tuple[Upstream, ...]
    #: Zones under ``from_zone`` that are not forwarded (``except``).
    ignored: tuple[str, ...] = ()
    force_tcp: bool = False
    prefer_udp: bool = False
    expire: float = 10.0
    max_fails: int = 2
    health_check: float = 0.5
    health_check_rd: bool = True
    health_check_domain: str = "."
    policy: str = "random"
    #: 0: no limit.
    max_concurrent: int = 0
    #: The ``tls`` arguments (CERT KEY CA, CA, CERT KEY or none); None when there is no ``tls``.
    tls: tuple[str, ...] | None = None
    tls_servername: str | None = None
    #: Rcodes that send the query on to the next plugin (``next``).
    next_rcodes: frozenset[int] = field(default_factory=frozenset)
    read_timeout: float = 2.0
    failfast_all_unhealthy_upstreams: bool = False

    @property
    def health(self) -> health.HealthOptions:
        return health.HealthOptions(
            interval=self.health_check,
            max_fails=self.max_fails,
            recursion_desired=self.health_check_rd,
            domain=self.health_check_domain,
            tcp=self.force_tcp,
        )

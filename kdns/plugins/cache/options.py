"""The settings of one ``cache`` directive, with CoreDNS's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.plugins.cache import stats

#: CoreDNS's default capacity: 256 shards of 39 entries.
DEFAULT_CAPACITY = 9984
#: Maximum TTL of success (``dnsutil.MaximumDefaulTTL``) and denial (half that) entries.
MAX_TTL = 3600
MAX_NTTL = 1800
#: Minimum TTL of both (``dnsutil.MinimalDefaultTTL``).
MIN_TTL = 5
#: SERVFAIL is cached this long unless ``servfail`` says otherwise; at most `MAX_SERVFAIL`.
SERVFAIL_TTL = 5.0
MAX_SERVFAIL = 300.0
#: ``prefetch AMOUNT``: the popularity window and the remaining-TTL percentage.
PREFETCH_WINDOW = 60.0
PREFETCH_PERCENTAGE = 10
#: ``serve_stale`` without a duration keeps expired entries servable for an hour.
STALE_DEFAULT = 3600.0
#: How long ``serve_stale ... verify`` waits for the source before answering stale: RFC 8767
#: section 5 suggests a client response timer of 1.8 seconds.
VERIFY_TIMEOUT = 1.8

SUCCESS = stats.SUCCESS
DENIAL = stats.DENIAL


@dataclass(frozen=True, slots=True)
class Options:
    #: Zones whose answers are cached: lower-case names with a trailing dot.
    zones: tuple[str, ...]
    success_capacity: int = DEFAULT_CAPACITY
    success_ttl: int = MAX_TTL
    success_min_ttl: int = MIN_TTL
    denial_capacity: int = DEFAULT_CAPACITY
    denial_ttl: int = MAX_NTTL
    denial_min_ttl: int = MIN_TTL
    #: Seconds a SERVFAIL is kept; 0 disables SERVFAIL caching.
    servfail_ttl: float = SERVFAIL_TTL
    #: Prefetch after this many hits without a gap of ``prefetch_window`` seconds; 0 is off.
    prefetch: int = 0
    prefetch_window: float = PREFETCH_WINDOW
    prefetch_percentage: int = PREFETCH_PERCENTAGE
    #: Seconds past expiry an entry may still be served; 0 disables serve_stale.
    stale: float = 0.0
    #: ``verify``: ask the source first (for at most ``verify_timeout``), then serve stale.
    verify: bool = False
    verify_timeout: float = VERIFY_TIMEOUT
    #: Zones whose success / denial answers are never stored (``disable``).
    disable_success: tuple[str, ...] = ()
    disable_denial: tuple[str, ...] = ()
    #: Serve the TTL the entry was stored with instead of counting down.
    keepttl: bool = False

"""What a ``hosts`` directive says, with CoreDNS's defaults (parsed by ``setup.parse``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kdns.pkg import fall

DEFAULT_FILE = Path("/etc/hosts")
#: CoreDNS's defaults: TTL of the records served, and seconds between checks of the file.
DEFAULT_TTL = 3600
DEFAULT_RELOAD = 5.0


@dataclass(frozen=True, slots=True)
class Options:
    #: The hosts file; a relative path is resolved against the Corefile's directory.
    path: Path
    #: Zones the plugin answers for: lower-case names with a trailing dot.
    zones: tuple[str, ...]
    #: The inline entries, one hosts line each.
    inline: tuple[str, ...] = ()
    ttl: int = DEFAULT_TTL
    #: Serve PTR records for the entries' addresses.
    reverse: bool = True
    #: Seconds between checks of the file; 0 never re-reads it.
    reload: float = DEFAULT_RELOAD
    fallthrough: fall.Fall = fall.ZERO

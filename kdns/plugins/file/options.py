"""What a ``file`` directive says, with CoreDNS's defaults (parsed by ``setup.parse``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kdns.pkg import fall

#: CoreDNS's default: the file is checked for changes every minute.
DEFAULT_RELOAD = 60.0


@dataclass(frozen=True, slots=True)
class Options:
    path: Path
    #: Absolute zone names, lower-case; the file is read once per zone with it as origin.
    zones: tuple[str, ...]
    reload: float = DEFAULT_RELOAD
    fallthrough: fall.Fall = fall.ZERO

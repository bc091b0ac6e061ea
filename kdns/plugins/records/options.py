"""What a ``records`` directive says, with CoreDNS's defaults (parsed by ``setup.parse``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kdns.pkg import fall

#: Default reload interval: none. Records change when the files are edited by hand or a
#: ConfigMap is updated; either is opted into with ``reload``, so an idle server does no I/O.
DEFAULT_RELOAD = 0.0


@dataclass(frozen=True, slots=True)
class Options:
    #: Files to load, resolved against the directory of the Corefile naming them.
    files: tuple[Path, ...]
    #: Seconds between checks of the files; 0 means never.
    reload: float = DEFAULT_RELOAD
    fallthrough: fall.Fall = fall.ZERO

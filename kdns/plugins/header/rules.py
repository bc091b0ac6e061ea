"""``header`` rules, folded into set and clear masks over the 16 flag bits of bytes 2-3."""

from __future__ import annotations

from dataclasses import dataclass

from kdns import wire

#: The flags a rule may name, as 16-bit masks over header bytes 2 and 3.
FLAGS = {"aa": wire.AA << 8, "ra": wire.RA, "rd": wire.RD << 8}


@dataclass(frozen=True, slots=True)
class Masks:
    """Bits to set and bits to clear; applying them is ``(flags | set) & ~clear``."""

    set: int = 0
    clear: int = 0

    def add(self, flags: int, *, on: bool) -> Masks:
        """These masks followed by one more rule: the later rule wins for its bits."""
        if on:
            return Masks(self.set | flags, self.clear & ~flags)
        return Masks(self.set & ~flags, self.clear | flags)

    def apply(self, flags: int) -> int:
        return (flags | self.set) & ~self.clear & 0xFFFF

    def __bool__(self) -> bool:
        return bool(self.set or self.clear)

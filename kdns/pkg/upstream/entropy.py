"""Random 16-bit numbers (query IDs, source ports) from the system's CSPRNG, read in blocks.

``os.urandom(2)`` per number costs a system call and a bytes object; reading 4 KiB at a time
keeps the numbers exactly as unpredictable (each comes from bytes no one has seen) for a
fraction of the cost on the forwarding path.
"""

from __future__ import annotations

import os

BLOCK = 4096


class Entropy:
    def __init__(self, block: int = BLOCK) -> None:
        self._block = block
        self._bytes = b""
        self._pos = 0

    def u16(self) -> int:
        """A uniformly random integer in [0, 65535]."""
        pos = self._pos
        data = self._bytes
        if pos + 2 > len(data):
            data = self._bytes = os.urandom(self._block)
            pos = 0
        self._pos = pos + 2
        return (data[pos] << 8) | data[pos + 1]

    def below(self, n: int) -> int:
        """A uniformly random integer in [0, n), for 0 < n <= 65536 (rejection sampling)."""
        limit = 65536 - 65536 % n
        while True:
            value = self.u16()
            if value < limit:
                return value % n


#: Shared by every upstream: IDs and ports are drawn from one stream.
ENTROPY = Entropy()

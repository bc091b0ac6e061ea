"""Pre-rendered answers for cluster names, invalidated per dependency, not per zone.

Each answer is stored under the query key with the tags it was built from
(``("svc", ns, name)``, ``("ns", ns)``, ``("ip", address)``); a store change
drops exactly the answers carrying its tag, and ends each one's lease, so the
replies kept from it (``kdns.replay``) end too. Answers holding the zone SOA keep
the offset of its serial, so a newer serial is patched in rather than
re-rendering. Size is bounded: the oldest entry goes first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kdns import replay, wire
from kdns.cluster.kubernetes import Tag

MAX_ENTRIES = 50_000


@dataclass(slots=True)
class Entry:
    answer: wire.Answer
    tags: tuple[Tag, ...]
    serial: int
    #: Offset of the SOA serial within ``answer.body``, or -1 if the answer has no SOA.
    serial_at: int
    #: Ended when the entry is dropped; replies built from it (``answer.lease``) end with it.
    lease: replay.Lease

    def with_serial(self, serial: int, serial_lease: replay.Lease) -> wire.Answer:
        """The answer with ``serial`` patched in, leased until the entry or the serial ends."""
        body = self.answer.body
        assert body is not None
        patched = body[: self.serial_at] + struct.pack("!I", serial) + body[self.serial_at + 4 :]
        old = self.answer
        self.answer = wire.Answer(
            rcode=old.rcode,
            body=patched,
            counts=(old.ancount, old.nscount, old.arcount),
            ends=old.ends,
            flags=old.flags,
            plugin=old.plugin,
            lease=replay.Lease.under(self.lease, serial_lease),
        )
        self.serial = serial
        return self.answer


class Answers:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[bytes, Entry] = {}
        self._by_tag: dict[Tag, set[bytes]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Entry | None:
        return self._entries.get(key)

    def put(self, key: bytes, entry: Entry) -> None:
        self.discard(key)
        if len(self._entries) >= self.max_entries:
            self.discard(next(iter(self._entries)))
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)

    def discard(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        entry.lease.end()
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def invalidate(self, tag: Tag) -> int:
        """Drop every answer built from ``tag``; returns how many."""
        keys = self._by_tag.pop(tag, ())
        for key in list(keys):
            self.discard(key)
        return len(keys)

    def clear(self) -> None:
        for entry in self._entries.values():
            entry.lease.end()
        self._entries.clear()
        self._by_tag.clear()


def soa_serial_offset(answer: wire.Answer) -> int:
    """Where the serial of a SOA that ends the authority section sits, or -1."""
    if answer.nscount == 0 or answer.body is None:
        return -1
    end = answer.ends[answer.ancount + answer.nscount - 1]
    # SOA RDATA ends with serial, refresh, retry, expire, minimum: five 32-bit fields.
    return end - 20

"""The in-memory zone every authoritative plugin serves from (records, file, k8s_external).

A ``Zone`` is RRsets keyed by owner name in lower-case wire form (the form a query's ``key``
has, so lookups never convert between text and wire), each remembering the file line it came
from so that every error can say ``FILE:LINE - reason``. A ``Source`` is a file's bytes and
stat, read once so that a reload can tell whether anything changed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import dnslib

from kdns import wire
from kdns.errors import KdnsError

#: TTL of a document that sets none (and the SOA minimum of a synthesised SOA).
DEFAULT_TTL = 300
MAX_TTL = 2**31 - 1

A = 1
NS = 2
CNAME = 5
SOA = 6
PTR = 12
MX = 15
TXT = 16
AAAA = 28
SRV = 33
CAA = 257

#: The record types a records file may hold, by the name used as a YAML key.
TYPES: dict[str, int] = {
    "A": A,
    "AAAA": AAAA,
    "CAA": CAA,
    "CNAME": CNAME,
    "MX": MX,
    "NS": NS,
    "PTR": PTR,
    "SOA": SOA,
    "SRV": SRV,
    "TXT": TXT,
}

#: Synthesised SOA timers (CoreDNS's kubernetes plugin uses the same): refresh, retry, expire.
SOA_TIMERS = (7200, 1800, 86400)


class LoadError(KdnsError):
    """A records file that cannot be served; ``str()`` is ``FILE:LINE - reason``."""

    def __init__(self, reason: str, *, file: str, line: int | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where} - {reason}")


@dataclass(frozen=True, slots=True)
class RRset:
    """The records of one type at one name."""

    #: Owner, lower-case wire form.
    name: bytes
    rtype: int
    ttl: int
    rdata: tuple[dnslib.RD, ...]
    #: Lower-case wire names the rdata points at (CNAME, NS, MX, SRV, PTR targets), in order.
    targets: tuple[bytes, ...]
    #: Line of the type key in the records file (0 for synthesised records).
    line: int

    def records(self, owner: bytes | None = None, *, ttl: int | None = None) -> list[dnslib.RR]:
        """The RRs, owned by ``owner`` (a wildcard's query name) or by the RRset's own name."""
        label = label_of(self.name if owner is None else owner)
        use_ttl = self.ttl if ttl is None else ttl
        return [dnslib.RR(label, self.rtype, ttl=use_ttl, rdata=rd) for rd in self.rdata]


@dataclass(slots=True)
class Zone:
    """One document: an origin and every name in it, empty non-terminals included."""

    origin: bytes
    file: str
    line: int
    ttl: int
    #: Every existing name -> its RRsets by type, in file order. Empty non-terminals (names
    #: that only exist because a name below them does) map to an empty dict.
    nodes: dict[bytes, dict[int, RRset]] = field(default_factory=dict)
    #: Names below the origin that hold NS records: zone cuts, answered with referrals. Empty
    #: for records files, where NS records below the apex are plain data.
    cuts: frozenset[bytes] = frozenset()
    #: Positive answers carry the apex NS RRset in their authority section (RFC 1034 zone
    #: files as CoreDNS's *file* serves them); records files keep that section empty.
    apex_ns: bool = False

    @property
    def name(self) -> str:
        return wire.name_to_text(self.origin)

    @property
    def soa(self) -> RRset:
        return self.nodes[self.origin][SOA]

    def negative_soa(self) -> dnslib.RR:
        """The SOA for the authority section of NXDOMAIN and NODATA answers.

        RFC 2308 §3: its TTL is the lesser of the SOA's own TTL and its MINIMUM field.
        """
        soa = self.soa
        minimum = soa.rdata[0].times[4]
        return soa.records(ttl=min(soa.ttl, minimum))[0]


@dataclass(frozen=True, slots=True)
class Source:
    """One records file as read: its text, and what tells a later change apart."""

    path: Path
    data: bytes
    #: (mtime_ns, size, inode): cheap to compare on every reload tick.
    stat: tuple[int, int, int]
    digest: str


def read(path: Path) -> Source:
    """Read one records file.

    :raises LoadError: if it cannot be read (no line: the file itself is the problem).
    """
    try:
        st = os.stat(path)
        data = path.read_bytes()
    except FileNotFoundError:
        raise LoadError("no such file", file=str(path)) from None
    except OSError as err:
        raise LoadError(f"cannot read: {err.strerror or err}", file=str(path)) from None
    return Source(
        path=path,
        data=data,
        stat=stat_key(st),
        digest=hashlib.sha256(data).hexdigest(),
    )


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


# --- names -------------------------------------------------------------------------------------


def label_of(name: bytes) -> dnslib.DNSLabel:
    """A dnslib label from a wire name, byte for byte (dnslib's text parser ignores escapes)."""
    return dnslib.DNSLabel(labels(name))


labels = wire.labels


def rdata_bytes(rd: dnslib.RD) -> bytes:
    buf = dnslib.DNSBuffer()
    rd.pack(buf)
    return bytes(buf.data)

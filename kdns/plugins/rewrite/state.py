"""What rules change while one query is rewritten, and what they ask of its reply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kdns.plugins.rewrite.cname import CnameTarget
    from kdns.request import Request

#: Rewrites a name (lower-case, with a trailing dot) in the reply; returns it unchanged if it
#: does not apply.
NameFn = Callable[[str], str]


@dataclass(slots=True)
class NameRewrite:
    """A response rule on names: ``owner`` for owner names, ``value`` for names in record data."""

    owner: NameFn | None = None
    value: NameFn | None = None


@dataclass(slots=True)
class Response:
    """Response rules registered by the rules that matched, in registration order."""

    names: list[NameRewrite] = field(default_factory=list)
    ttls: list[tuple[int, int]] = field(default_factory=list)
    rcodes: list[tuple[int, int]] = field(default_factory=list)
    cnames: list[CnameTarget] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.names or self.ttls or self.rcodes or self.cnames)


class State:
    """The question being rewritten: the original request, and the current name, type, class and
    EDNS options (None until an ``edns0`` rule reads them)."""

    __slots__ = (
        "edns_changed",
        "name",
        "options",
        "original",
        "qclass",
        "qtype",
        "renamed",
        "req",
        "response",
    )

    def __init__(self, req: Request, name: str) -> None:
        self.req = req
        #: The client's name, lower-case, with a trailing dot.
        self.original = name
        #: The current name, lower-case, with a trailing dot.
        self.name = name
        #: Some rule changed the name (it may have changed back).
        self.renamed = False
        self.qtype = req.qtype
        self.qclass = req.qclass
        self.options: list[tuple[int, bytes]] | None = None
        self.edns_changed = False
        self.response = Response()

    @property
    def spelled(self) -> str:
        """The name as the next plugin will see it spelled ({qname}): the client's spelling
        until a rule rewrites it."""
        return self.name if self.renamed else self.req.original_name

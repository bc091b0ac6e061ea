"""Serve one ``template`` line: match the query, render its records, answer.

Each ``template`` line of a server block is one link of the chain, in Corefile order, which is
how CoreDNS's single template handler walks its list: a query outside the line's zones, of
another class or type, or (with ``fallthrough``) matching none of its regexes goes on to the
next line and finally to the next plugin. A query in the zones that matches no regex and is not
covered by ``fallthrough`` gets SERVFAIL.
"""

from __future__ import annotations

import contextvars
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import re2

from kdns import metrics, plugin, replay, wire
from kdns.pkg import dnsname, gotemplate
from kdns.pkg import fall as fallpkg
from kdns.plugins.template import records
from kdns.request import Request

MATCHES = metrics.family(
    "coredns_template_matches_total",
    "Counter of template regex matches.",
    ("server", "zone", "view", "class", "type"),
)
TEMPLATE_FAILURES = metrics.family(
    "coredns_template_template_failures_total",
    "Counter of go template failures.",
    ("server", "zone", "view", "class", "type", "section", "template"),
)
RR_FAILURES = metrics.family(
    "coredns_template_rr_failures_total",
    "Counter of mis-templated RRs.",
    ("server", "zone", "view", "class", "type", "section", "template"),
)

#: Fields a record template may read (CoreDNS's template data).
FIELDS = frozenset(
    (
        "Zone",
        "Name",
        "Regex",
        "Match",
        "Group",
        "Class",
        "Type",
        "Message",
        "Question",
        "Remote",
        "Meta",
    )
)
#: Fields whose value is not a function of the query bytes alone.
IMPURE_FIELDS = frozenset(("Remote", "Message"))
#: Template functions beyond Go's built-ins.
FUNCTIONS = {"parseInt": gotemplate.parse_uint}
SECTIONS = ("answer", "authority", "additional")
#: CNAME chasing re-enters the chain; a template answering a CNAME to itself stops here.
MAX_CHASE_DEPTH = 8
#: EDNS option code of an Extended DNS Error (RFC 8914).
OPTION_EDE = 15

_FLAGS = (wire.QR | wire.AA) << 8
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


class Match(Protocol):
    """What the plugin reads of an RE2 match (re2 ships no types)."""

    def group(self, index: int = 0, /) -> str | None: ...

    def groups(self) -> tuple[str | None, ...]: ...

    def groupdict(self) -> dict[str, str | None]: ...


class Regex(Protocol):
    """What the plugin reads of a compiled RE2 pattern."""

    @property
    def pattern(self) -> str: ...

    @property
    def groups(self) -> int: ...

    @property
    def groupindex(self) -> Mapping[str, int]: ...

    def search(self, text: str, /) -> Match | None: ...


def compile_regex(pattern: str) -> Regex:
    """A Go regex compiled by RE2: Go's syntax, and linear time in the name a client sends.

    :raises re2.error: if RE2 cannot compile it.
    """
    compiled: Regex = re2.compile(pattern, options=_RE2_OPTIONS)
    return compiled


_CHASE_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("template_chase", default=0)
_HEADER = struct.Struct("!HHHHHH")


@dataclass(frozen=True)
class Template:
    """One ``template`` line, parsed."""

    qclass: int
    qtype: int
    zones: tuple[str, ...]
    regexes: tuple[Regex, ...] = ()
    answer: tuple[gotemplate.Template, ...] = ()
    authority: tuple[gotemplate.Template, ...] = ()
    additional: tuple[gotemplate.Template, ...] = ()
    rcode: int = wire.NOERROR
    ederror: tuple[int, str] | None = None
    fall: fallpkg.Fall = fallpkg.ZERO
    _zone_wires: dict[bytes, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        wires: dict[bytes, str] = {}
        for zone in self.zones:
            wires.setdefault(wire.text_to_name(zone), zone)
        object.__setattr__(self, "_zone_wires", wires)

    @property
    def pure(self) -> bool:
        """True when the reply is a function of the query bytes alone: no template reads the
        client's address or the whole message. Such replies may be replayed (``Answer.lease``)
        unless a CNAME was chased through the chain for them."""
        return not any(t.fields & IMPURE_FIELDS for t in self.all_templates)

    @property
    def all_templates(self) -> tuple[gotemplate.Template, ...]:
        return self.answer + self.authority + self.additional

    def zone_of(self, key_name: bytes) -> str | None:
        """The longest of this line's zones that holds ``key_name`` (lower-case wire form)."""
        return dnsname.longest(key_name, self._zone_wires)


_CLASS_ANY = 255
#: What ``template ANY ...`` answers: every class a query may carry (IN, CH, HS, NONE, ANY).
ANY_CLASSES = frozenset({1, 3, 4, 254, 255})


class TemplateHandler:
    name = "template"
    #: What it passes on depends on the query's name, class and type alone; its own replies
    #: are leased only when ``Template.pure`` and no CNAME was chased (``kdns.replay``).
    lease = replay.PURE

    def __init__(self, template: Template, next: plugin.Handler) -> None:
        self.template = template
        self.next = next
        #: The classes it answers, so that the server lets such queries reach the chain.
        self.classes = (
            ANY_CLASSES if template.qclass == _CLASS_ANY else frozenset({template.qclass})
        )
        self._static = template.pure
        self._class_text = _class_text(template.qclass)
        self._type_text = dns.rdatatype.RdataType.to_text(template.qtype)
        #: Records of templates without actions, parsed once (setup has checked they parse).
        self._fixed = {t: records.parse(t.source) for t in template.all_templates if t.is_static}

    def serve(self, req: Request) -> plugin.Result:
        tmpl = self.template
        key_name = req.key[:-4]
        zone = tmpl.zone_of(key_name)
        if zone is None:
            return self.next.serve(req)
        if not _class_matches(tmpl.qclass, req.qclass) or not _type_matches(tmpl.qtype, req.qtype):
            return self.next.serve(req)
        name = dns.name.from_wire(key_name, 0)[0].to_text()
        for regex in tmpl.regexes:
            found = regex.search(name)
            if found is not None:
                break
        else:
            if tmpl.fall.through(key_name):
                return self.next.serve(req)
            return wire.Answer.failure(wire.SERVFAIL)
        qclass = self._class_text if req.qclass == 255 else _class_text(req.qclass)
        qtype = self._type_text if req.qtype == 255 else dns.rdatatype.RdataType.to_text(req.qtype)
        labels = (req.server, zone, "", qclass, qtype)
        MATCHES.inc(labels)
        if tmpl.rcode == wire.SERVFAIL:
            return wire.Answer.failure(wire.SERVFAIL)
        data = _data(req, zone, name, regex.pattern, found, qclass, qtype)
        sections: list[list[dns.rrset.RRset]] = []
        for section in SECTIONS:
            rendered = []
            for text in getattr(tmpl, section):
                fixed = self._fixed.get(text)
                if fixed is not None:
                    rendered.append(fixed)
                    continue
                try:
                    out = text.render(data)
                except gotemplate.ExecError as err:
                    TEMPLATE_FAILURES.inc((*labels, section, text.source))
                    return wire.Answer.failure(wire.SERVFAIL, f"plugin/template: {err}")
                try:
                    rendered.append(records.parse(out))
                except records.RecordError as err:
                    RR_FAILURES.inc((*labels, section, text.source))
                    return wire.Answer.failure(wire.SERVFAIL, f"plugin/template: {err}")
            sections.append(rendered)
        if tmpl.ederror is not None and req.edns:
            code, reason = tmpl.ederror
            text_bytes = reason.encode()
            req.reply_options += struct.pack("!HHH", OPTION_EDE, 2 + len(text_bytes), code)
            req.reply_options += text_bytes
        targets = _chase_targets(sections[0], req.qtype)
        if targets and _CHASE_DEPTH.get() < MAX_CHASE_DEPTH:
            return self._chase(req, sections, targets)
        return self._answer(req, sections, [], 0, static=self._static)

    def _answer(
        self,
        req: Request,
        sections: list[list[dns.rrset.RRset]],
        chased: list[dns.rrset.RRset],
        extra_flags: int,
        *,
        static: bool,
    ) -> wire.Answer:
        writer = records.BodyWriter(req.data, req.question_end)
        counts = []
        for i, section in enumerate(sections):
            before = len(writer.ends)
            for rrset in section:
                writer.add(rrset)
            if i == 0:
                for rrset in chased:
                    writer.add(rrset)
            counts.append(len(writer.ends) - before)
        return wire.Answer(
            rcode=self.template.rcode,
            body=writer.body,
            counts=(counts[0], counts[1], counts[2]),
            ends=tuple(writer.ends),
            flags=_FLAGS | extra_flags,
            plugin=self.name,
            lease=replay.PURE if static else None,
        )

    async def _chase(
        self, req: Request, sections: list[list[dns.rrset.RRset]], targets: list[str]
    ) -> wire.Answer:
        chased: list[dns.rrset.RRset] = []
        flags = 0
        token = _CHASE_DEPTH.set(_CHASE_DEPTH.get() + 1)
        try:
            for target in targets:
                try:
                    answer = await plugin.resolve(plugin.lookup(req, target, req.qtype))
                    found, truncated = _answer_records(answer, target, req.qtype)
                except (dns.exception.DNSException, ValueError):
                    continue  # CoreDNS skips a target it cannot read, silently
                chased.extend(found)
                if truncated:
                    flags |= wire.TC << 8
        finally:
            _CHASE_DEPTH.reset(token)
        return self._answer(req, sections, chased, flags, static=False)


def _class_text(qclass: int) -> str:
    return dns.rdataclass.RdataClass.to_text(qclass)


def _class_matches(want: int, got: int) -> bool:
    return want == got or want == 255 or got == 255


def _type_matches(want: int, got: int) -> bool:
    return want == got or want == 255 or got == 255


def _chase_targets(answer: list[dns.rrset.RRset], qtype: int) -> list[str]:
    if qtype not in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return []
    return [
        rd.target.to_text()
        for rrset in answer
        if rrset.rdtype == dns.rdatatype.CNAME
        for rd in rrset
    ]


def _answer_records(
    answer: wire.Answer, target: str, qtype: int
) -> tuple[list[dns.rrset.RRset], bool]:
    """The answer records of a lookup's reply, read back from its wire body."""
    if answer.body is None or not answer.ancount:
        return [], bool(answer.flags & (wire.TC << 8))
    question = wire.text_to_name(target) + struct.pack("!HH", qtype, wire.CLASS_IN)
    header = _HEADER.pack(0, 0x8000, 1, answer.ancount, answer.nscount, answer.arcount)
    message = dns.message.from_wire(
        header + question + answer.body, ignore_trailing=True, one_rr_per_rrset=True
    )
    return list(message.answer), bool(answer.flags & (wire.TC << 8))


def _data(
    req: Request,
    zone: str,
    name: str,
    pattern: str,
    found: Match,
    qclass: str,
    qtype: str,
) -> gotemplate.Struct:
    match = [g if g is not None else "" for g in (found.group(0), *found.groups())]
    group: dict[str, str] = {str(i): value for i, value in enumerate(match)}
    for key, value in found.groupdict().items():
        group[key] = value if value is not None else ""
    question = gotemplate.Struct(
        "dns.Question",
        {
            "Name": wire.name_to_text(req.data[wire.HEADER_LEN : req.name_end]),
            "Qtype": req.qtype,
            "Qclass": req.qclass,
        },
        text=lambda: (
            f";{name}\t{_class_text(req.qclass)}\t {dns.rdatatype.RdataType.to_text(req.qtype)}"
        ),
    )
    return gotemplate.Struct(
        "template.templateData",
        {
            "Zone": zone,
            "Name": name,
            "Regex": pattern,
            "Match": match,
            "Group": group,
            "Class": qclass,
            "Type": qtype,
            "Message": gotemplate.Lazy(lambda: _message(req)),
            "Question": question,
            "Remote": req.remote[0],
            "Meta": lambda label: "",
        },
    )


def _message(req: Request) -> gotemplate.Struct:
    """The request as a Go ``dns.Msg`` for templates that read ``.Message``."""
    msg = dns.message.from_wire(req.data, ignore_trailing=True)
    flags = msg.flags
    return gotemplate.Struct(
        "dns.Msg",
        {
            "Id": msg.id,
            "Opcode": msg.opcode(),
            "Rcode": msg.rcode(),
            "RecursionDesired": bool(flags & dns.flags.RD),
            "CheckingDisabled": bool(flags & dns.flags.CD),
            "AuthenticatedData": bool(flags & dns.flags.AD),
        },
        text=msg.to_text,
    )

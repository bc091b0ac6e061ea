"""``template CLASS TYPE [ZONE...] { match REGEX...; answer RR...; additional RR...;
authority RR...; rcode CODE; ederror CODE [REASON]; fallthrough [ZONE...]; upstream }``.

Everything a template can get wrong without seeing a query is checked here, so that start-up
stops with the file and line: the regexes compile, the record templates parse (functions and
fields exist), a record without actions parses as a record, and a record with actions, rendered
with sample data, starts with an owner, TTL/class and a known type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.rdatatype
import re2

from kdns import wire
from kdns.pkg import fall, gotemplate
from kdns.plugins.template import records
from kdns.plugins.template.handler import (
    FIELDS,
    FUNCTIONS,
    Regex,
    Template,
    TemplateHandler,
    compile_regex,
)

if TYPE_CHECKING:
    from kdns import config, corefile, plugin

#: miekg/dns's StringToClass (case-sensitive, as in CoreDNS).
CLASSES = {"IN": 1, "CS": 2, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
#: The rcodes a reply header can carry; CoreDNS's names, upper case.
RCODES = {name: code for code, name in wire.RCODE_NAMES.items() if code <= 15}
#: CoreDNS's limit on one regex.
MAX_REGEX = 10000


def setup(d: corefile.Directive, c: config.Controller) -> None:
    template = parse(d, c.zones)

    def factory(next: plugin.Handler) -> plugin.Handler:
        return TemplateHandler(template, next)

    c.add_plugin(factory)


def parse(d: corefile.Directive, block_zones: tuple[str, ...]) -> Template:
    """The ``Template`` of one ``template`` line."""
    if len(d.args) < 2:
        raise d.arg_error()
    qclass = CLASSES.get(d.args[0])
    if qclass is None:
        raise d.error(f"invalid query class {d.args[0]}")
    qtype = _rrtype(d.args[1])
    if qtype is None:
        raise d.error(f"invalid RR class {d.args[1]}")
    zones: list[str] = []
    for arg in d.args[2:] or block_zones:
        try:
            zones.extend(fall.normalize(arg))
        except ValueError:
            continue  # CoreDNS drops a zone it cannot normalise
    regexes: list[Regex] = []
    texts: dict[str, list[tuple[corefile.Directive, str]]] = {s: [] for s in records_sections()}
    rcode = wire.NOERROR
    ederror: tuple[int, str] | None = None
    through = fall.ZERO
    for sub in d.block:
        if sub.name == "match":
            if not sub.args:
                raise sub.arg_error()
            for pattern in sub.args:
                regexes.append(_regex(sub, pattern))
        elif sub.name in texts:
            if not sub.args:
                raise sub.arg_error()
            texts[sub.name].extend((sub, text) for text in sub.args)
        elif sub.name == "rcode":
            if len(sub.args) != 1:
                raise sub.arg_error()
            if sub.args[0] not in RCODES:
                raise sub.error(f"unknown rcode {sub.args[0]}")
            rcode = RCODES[sub.args[0]]
        elif sub.name == "ederror":
            ederror = _ederror(sub)
        elif sub.name == "fallthrough":
            through = fall.from_directive(sub)
        elif sub.name == "upstream":
            pass  # CoreDNS accepts and ignores it: CNAME targets are always resolved
        elif sub.name in ("var", "expr"):
            raise sub.error(f"'{sub.name}' is not supported by kdns's template plugin")
        else:
            raise sub.unknown_property()
    if not regexes:
        regexes.append(compile_regex(".*"))
    sample = _sample(zones, regexes, d.args[0], d.args[1])
    compiled = {
        section: tuple(_compile(sub, text, sample) for sub, text in entries)
        for section, entries in texts.items()
    }
    return Template(
        qclass=qclass,
        qtype=qtype,
        zones=tuple(dict.fromkeys(zones)),
        regexes=tuple(regexes),
        answer=compiled["answer"],
        authority=compiled["authority"],
        additional=compiled["additional"],
        rcode=rcode,
        ederror=ederror,
        fall=through,
    )


def records_sections() -> tuple[str, ...]:
    return ("answer", "authority", "additional")


def _rrtype(text: str) -> int | None:
    """The type ``text`` names in miekg/dns's StringToType: upper-case mnemonics only."""
    try:
        value = dns.rdatatype.from_text(text)
    except dns.rdatatype.UnknownRdatatype:
        return None
    return int(value) if dns.rdatatype.to_text(value) == text else None


def _regex(d: corefile.Directive, pattern: str) -> Regex:
    """Compile ``pattern`` with RE2, the engine (and syntax) of Go's regexp."""
    if len(pattern) > MAX_REGEX:
        raise d.error(f"regex too long: {len(pattern)} > {MAX_REGEX} characters")
    try:
        return compile_regex(pattern)
    except re2.error as err:
        reason = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else err
        raise d.error(f"could not parse regex: {pattern}, {reason}") from None


def _ederror(d: corefile.Directive) -> tuple[int, str]:
    if not 1 <= len(d.args) <= 2:
        raise d.arg_error()
    try:
        code = int(d.args[0], 10)
    except ValueError:
        code = -1
    if not 0 <= code <= 0xFFFF:
        raise d.error(f"error parsing extended DNS error code {d.args[0]}")
    reason = d.args[1] if len(d.args) == 2 else ""
    if len(reason.encode()) > 4000:
        raise d.error("extended DNS error reason longer than 4000 bytes")
    return code, reason


def _sample(zones: list[str], regexes: list[Regex], qclass: str, qtype: str) -> gotemplate.Struct:
    """Data shaped like a query's, to try record templates on at start-up."""
    groups = max(r.groups for r in regexes)
    group: dict[str, str] = {str(i): "1" for i in range(groups + 1)}
    for regex in regexes:
        group.update(dict.fromkeys(regex.groupindex, "1"))
    zone = zones[0] if zones else "example."
    question = gotemplate.Struct("dns.Question", {"Name": zone, "Qtype": 1, "Qclass": 1})
    return gotemplate.Struct(
        "template.templateData",
        {
            "Zone": zone,
            "Name": zone,
            "Regex": regexes[0].pattern,
            "Match": ["1"] * (groups + 1),
            "Group": group,
            "Class": "IN" if qclass == "ANY" else qclass,
            "Type": "A" if qtype == "ANY" else qtype,
            "Message": gotemplate.Struct("dns.Msg", {"Id": 0}, text=lambda: ""),
            "Question": question,
            "Remote": "192.0.2.1",
            "Meta": lambda label: "",
        },
    )


def _compile(d: corefile.Directive, text: str, sample: gotemplate.Struct) -> gotemplate.Template:
    try:
        template = gotemplate.parse(text, functions=FUNCTIONS, fields=FIELDS)
    except gotemplate.TemplateError as err:
        raise d.error(f"could not compile template: {text}, {err}") from None
    try:
        if template.is_static:
            records.parse(text)
        else:
            try:
                rendered = template.render(sample)
            except gotemplate.ExecError:
                return template  # depends on the query's data; failures count per query
            records.check_head(rendered)
    except records.RecordError as err:
        raise d.error(f"invalid resource record in template: {text}, {err}") from None
    return template

"""``rewrite [continue|stop] FIELD ARGS...`` and ``rewrite [continue|stop] { FIELD ARGS... }``.

Every ``rewrite`` of a server block joins one ordered rule list, as in CoreDNS. In the block
form every token inside the braces, across lines, makes one argument list: a block is one rule
(a ``name`` rule followed by its ``answer`` options, in practice).
"""

from __future__ import annotations

from collections.abc import Callable

from kdns import config, corefile, wire
from kdns.plugins.rewrite import cname, edns0, fields, names
from kdns.plugins.rewrite.handler import Quick, Rewrite, Rule
from kdns.plugins.rewrite.matching import BadRule, Matcher

MODES = ("continue", "stop")
FIELDS: dict[str, Callable[[str, list[str]], Rule]] = {
    "name": names.parse,
    "type": fields.parse_type,
    "class": fields.parse_class,
    "ttl": fields.parse_ttl,
    "rcode": fields.parse_rcode,
    "edns0": edns0.parse,
    "cname": cname.parse,
}


def parse_rule(d: corefile.Directive) -> Rule:
    words = list(d.args)
    for line in d.block:
        words += [line.name, *line.args]
    mode = "stop"
    if words and words[0].lower() in MODES:
        mode = words.pop(0).lower()
    if not words:
        raise d.arg_error()
    field = words[0].lower()
    if field == "answer":
        raise d.error("rewrite answer: a response rule must begin with a name rule")
    make = FIELDS.get(field)
    if make is None:
        raise d.error(f"invalid field {words[0]!r}, want one of {', '.join(FIELDS)}")
    try:
        return make(mode, words[1:])
    except BadRule as err:
        raise d.error(str(err)) from None


def quick(rule: Rule) -> Quick:
    """What the raw request must show for ``rule`` to possibly match (``Rewrite.quick``)."""
    if isinstance(rule, fields.TypeRule):
        return (rule.frm, -1, b"")
    if isinstance(rule, fields.ClassRule):
        return (-1, rule.frm, b"")
    matcher = getattr(rule, "matcher", None)
    if isinstance(matcher, Matcher) and matcher.kind == "exact":
        try:
            return (-1, -1, wire.text_to_name(matcher.pattern))
        except ValueError:
            return None
    return None


def setup(d: corefile.Directive, c: config.Controller) -> None:
    if "once:rewrite" in c.config.directives:
        return
    c.config.directives.add("once:rewrite")
    lines = [x for x in c.config.block.directives if x.name == "rewrite"] or [d]
    rules = [parse_rule(line) for line in lines]
    needs = tuple(quick(rule) for rule in rules)
    c.add_plugin(lambda next: Rewrite(next, rules, needs))

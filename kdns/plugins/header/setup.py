from __future__ import annotations

from kdns import config, corefile
from kdns.plugins.header.handler import Header
from kdns.plugins.header.rules import FLAGS, Masks

SELECTORS = ("query", "response")
ACTIONS = ("set", "clear")


def parse(d: corefile.Directive) -> tuple[Masks, Masks]:
    """Query and response masks of one ``header`` directive that has rules.

    ``SELECTOR ACTION FLAGS...`` per line, case-insensitive. A line without a selector applies
    to responses, the form CoreDNS accepted before selectors existed.
    """
    masks = {"query": Masks(), "response": Masks()}
    for rule in d.block:
        words = [rule.name.lower(), *(a.lower() for a in rule.args)]
        if words[0] in ACTIONS:
            words.insert(0, "response")
        selector, *rest = words
        if selector not in SELECTORS:
            raise rule.error(f"unknown selector '{rule.name}', want query or response")
        if len(rest) < 2:
            raise rule.arg_error()
        action, *flags = rest
        if action not in ACTIONS:
            raise rule.error(f"unknown action '{action}', want set or clear")
        for flag in flags:
            if flag not in FLAGS:
                raise rule.error(f"unknown flag '{flag}', want aa, ra or rd")
            masks[selector] = masks[selector].add(FLAGS[flag], on=action == "set")
    return masks["query"], masks["response"]


def setup(d: corefile.Directive, c: config.Controller) -> None:
    """As CoreDNS: the first ``header`` of the block that has rules is used, later ones are not
    read; a block whose ``header`` lines all lack rules is an error."""
    if "once:header" in c.config.directives:
        return
    c.config.directives.add("once:header")
    lines = [x for x in c.config.block.directives if x.name == "header"]
    chosen = next((x for x in lines if x.block), None)
    if chosen is None:
        raise lines[0].arg_error() if lines else d.arg_error()
    query, response = parse(chosen)
    c.add_plugin(lambda next: Header(next, query=query, response=response))

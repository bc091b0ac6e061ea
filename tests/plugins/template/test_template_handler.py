"""The template handler at the plugin seam: matching, fallthrough and which answers are static."""

from __future__ import annotations

import pytest

from kdns import wire
from kdns.plugins.template import setup
from kdns.plugins.template.handler import TemplateHandler
from tests.support import seam

NEXT_ANSWER = seam.answer("next.example.", "A", ["next.example. 5 IN A 192.0.2.99"])


def handler(body: str, args: str = "IN A example.") -> tuple[TemplateHandler, seam.Next]:
    text = f". {{\n    template {args} {{\n{body}\n    }}\n}}\n"
    template = setup.parse(seam.directive(text, "template"), (".",))
    nxt = seam.Next(NEXT_ANSWER)
    return TemplateHandler(template, nxt), nxt


def serve(h: TemplateHandler, name: str, rdtype: str = "A", **kw: object) -> wire.Answer:
    answer = h.serve(seam.request(name, rdtype, **kw))  # type: ignore[arg-type]
    assert isinstance(answer, wire.Answer)
    return answer


def test_names_outside_the_zones_and_other_types_go_to_the_next_plugin() -> None:
    h, nxt = handler('      answer "{{ .Name }} 60 IN A 192.0.2.1"')
    assert serve(h, "a.other.", "A") is NEXT_ANSWER
    assert serve(h, "a.example.", "MX") is NEXT_ANSWER
    assert serve(h, "a.example.", "A", rdclass="CH") is NEXT_ANSWER
    assert nxt.calls == 3
    # A label that merely ends in the zone's text is not in the zone.
    assert serve(h, "aexample.", "A") is NEXT_ANSWER


def test_an_any_query_matches_a_template_of_any_type_and_sees_its_type() -> None:
    h, _ = handler('      answer "{{ .Name }} 60 IN TXT {{ .Type }}-{{ .Class }}"')
    reply = seam.reply(req := seam.request("a.example.", "ANY"), h.serve(req))  # type: ignore[arg-type]
    assert [rr.to_text() for rr in reply.answer[0]] == ['"A-IN"']


def test_fallthrough_zones_limit_which_unmatched_names_go_on() -> None:
    h, _ = handler('      match "^x[.]"\n      rcode NXDOMAIN\n      fallthrough sub.example.')
    assert serve(h, "y.sub.example.") is NEXT_ANSWER
    failed = serve(h, "y.example.")
    assert (failed.rcode, failed.body) == (wire.SERVFAIL, None)
    assert serve(h, "x.example.").rcode == wire.NXDOMAIN


@pytest.mark.parametrize(
    ("answer", "pure"),
    [
        ("{{ .Name }} 60 IN A 192.0.2.1", True),
        ("{{ .Name }} 60 IN TXT {{ .Question.Name }} {{ .Zone }}", True),
        ("{{ .Name }} 60 IN A {{ .Remote }}", False),
        ("{{ .Name }} 60 IN TXT {{ .Message.Id }}", False),
    ],
)
def test_only_answers_that_depend_on_the_query_bytes_alone_are_static(
    answer: str, pure: bool
) -> None:
    h, _ = handler(f'      answer "{answer}"', args="IN ANY example.")
    assert h.template.pure is pure
    assert (serve(h, "a.example.", "A").lease is not None) is pure


def test_failures_are_not_static_and_say_why() -> None:
    h, _ = handler('      answer "{{ index .Match 1 }} 60 IN A 192.0.2.1"')
    failed = serve(h, "a.example.")
    assert (failed.rcode, failed.body) == (wire.SERVFAIL, None)
    assert failed.error is not None and "index out of range: 1" in failed.error
    assert failed.lease is None

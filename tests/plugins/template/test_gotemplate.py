"""The Go text/template subset: what it renders like Go, and what it refuses at parse time."""

from __future__ import annotations

import pytest

from kdns.pkg import gotemplate as g

FUNCS = {"parseInt": g.parse_uint}
DATA = g.Struct(
    "data",
    {
        "Name": "ip-10-1-2-3.example.",
        "Match": ["ip-10-1-2-3.example.", "1", ""],
        "Group": {"0": "ip-10-1-2-3.example.", "b": "5f", "x": ""},
        "Meta": lambda label: "",
        "Question": g.Struct("q", {"Qtype": 1}),
    },
)


def render(text: str) -> str:
    return g.parse(text, functions=FUNCS).render(DATA)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("plain text", "plain text"),
        ("{{ .Name }} 60 IN A", "ip-10-1-2-3.example. 60 IN A"),
        ("{{.Name}}", "ip-10-1-2-3.example."),
        ("{{ index .Match 1 }}|{{ index .Match 2 }}", "1|"),
        ('{{ .Group.b }} {{ index .Group "b" }}', "5f 5f"),
        ("{{ .Group.missing }}", "<no value>"),
        ('{{ index .Group "missing" }}', ""),
        ("{{ parseInt .Group.b 16 8 }}", "95"),
        ('{{ parseInt "0x1f" 0 64 }}', "31"),
        ("{{ .Question.Qtype }}", "1"),
        ('{{ .Meta "kubernetes/client-namespace" }}', ""),
        ("a  {{- .Question.Qtype -}}  b", "a1b"),
        ("a {{- /* a comment */ -}} b", "ab"),
        ("{{ .Name | len }}", "20"),
        ('{{ .Match | len | printf "%03d" }}', "003"),
        ('{{ printf "%s-%d-%x-%q" "a" 5 255 "b" }}', 'a-5-ff-"b"'),
        ('{{ print 1 2 "a" "b" 3 }}', "1 2ab3"),
        ('{{ eq .Group.b "5f" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ not true }}', "true true true false"),
        ('{{ and 1 "" 3 }}|{{ or "" "y" }}', "|y"),
        ("{{ slice .Name 0 5 }}", "ip-10"),
        ("{{ (index .Match 1) }}{{ `raw\\n` }}", "1raw\\n"),
        ('{{ "tab\\there" }}', "tab\there"),
        ("{{ .Match }}", "[ip-10-1-2-3.example. 1 ]"),
        ("{{ 'a' }} {{ 1.5 }} {{ -3 }}", "97 1.5 -3"),
    ],
)
def test_renders_like_go(text: str, out: str) -> None:
    assert render(text) == out


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ lower .Name }}", 'function "lower" not defined'),
        ("{{ .Name", "unclosed action"),
        ("{{ }}", "missing value for command"),
        ("{{ (index .Match 1 }}", "unclosed left paren"),
        ("{{ index .Match 1) }}", "unexpected ')'"),
        ("{{ $x := .Name }}", "variables ($x) are not supported"),
        ("{{ if .Name }}a{{ end }}", "{{if}} is not supported"),
        ("{{ range .Match }}{{ end }}", "{{range}} is not supported"),
        ('{{ "unterminated }}', "unclosed action"),
        ("{{ .Name | }}", "missing value for command"),
        ("{{ /* open }}", "unclosed comment"),
        ('{{ "\\q" }}', "unknown escape sequence"),
        ("{{ nil }}", "nil is not a command"),
        ("{{ # }}", "unexpected '#'"),
    ],
)
def test_refused_at_parse_time(text: str, reason: str) -> None:
    with pytest.raises(g.TemplateError, match=None) as info:
        g.parse(text, functions=FUNCS)
    assert reason in str(info.value)


def test_fields_are_checked_against_the_known_set_and_recorded() -> None:
    with pytest.raises(g.TemplateError, match="can't evaluate field Remote"):
        g.parse("{{ .Remote }}", fields={"Name"})
    assert g.parse("{{ .Name }}{{ .Group.a }}", fields={"Name", "Group"}).fields == {
        "Name",
        "Group",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ index .Match 3 }}", "index out of range: 3"),
        ("{{ parseInt .Group.b 10 8 }}", 'parsing "5f": invalid syntax'),
        ('{{ parseInt "300" 10 8 }}', "value out of range"),
        ('{{ parseInt "-1" 10 8 }}', "invalid syntax"),
        ('{{ parseInt " 1" 10 8 }}', "invalid syntax"),
        ("{{ parseInt .Group.missing 16 8 }}", "wrong argument types"),
        ("{{ .Question.Nope }}", "can't evaluate field Nope"),
        ("{{ .Meta }}", "wrong number of args"),
        ('{{ .Name "x" }}', "is not a method"),
    ],
)
def test_failures_on_the_data_raise_exec_error(text: str, reason: str) -> None:
    template = g.parse(text, functions=FUNCS)
    with pytest.raises(g.ExecError) as info:
        template.render(DATA)
    assert reason in str(info.value)


def test_lazy_fields_are_built_once_and_only_when_read() -> None:
    built = []
    data = g.Struct("d", {"Name": "n.", "Message": g.Lazy(lambda: built.append(1) or "msg")})
    assert g.parse("{{ .Name }}").render(data) == "n."
    assert built == []
    template = g.parse("{{ .Message }}{{ .Message }}")
    assert template.render(data) == "msgmsg"
    assert built == [1]

"""``template`` Corefile parsing: what loads, and every error stops start-up with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdns import wire
from kdns.errors import CorefileError
from kdns.pkg import fall
from kdns.plugins.template import setup
from kdns.plugins.template.handler import TemplateHandler
from tests.support import clients, seam

BLOCK = ("example.org.",)


def parse(body: str, *, args: str = "IN A") -> setup.Template:
    text = f"example.org {{\n    template {args} {{\n{body}\n    }}\n}}\n"
    return setup.parse(seam.directive(text, "template", filename="/etc/kdns/Corefile"), BLOCK)


def error(body: str, *, args: str = "IN A") -> str:
    with pytest.raises(CorefileError) as info:
        parse(body, args=args)
    return str(info.value)


def test_defaults() -> None:
    t = parse("      rcode NOERROR")
    assert (t.qclass, t.qtype, t.zones) == (1, 1, BLOCK)
    assert [r.pattern for r in t.regexes] == [".*"]
    assert (t.answer, t.authority, t.additional) == ((), (), ())
    assert (t.rcode, t.ederror, t.fall) == (wire.NOERROR, None, fall.ZERO)


def test_no_block_and_any_any_are_valid() -> None:
    text = "example.org {\n    template ANY ANY\n}\n"
    t = setup.parse(seam.directive(text, "template"), BLOCK)
    assert (t.qclass, t.qtype) == (255, 255)


def test_every_option() -> None:
    t = parse(
        """      match "^a[.]" b
      match c
      answer "{{ .Name }} 60 IN A 192.0.2.1" "{{ .Name }} 60 IN A 192.0.2.2"
      authority "example.org. 60 IN NS ns.example.org."
      additional "ns.example.org. 60 IN A 192.0.2.53"
      rcode NXDOMAIN
      ederror 21 "blocked"
      fallthrough a.example.org
      upstream""",
        args="CH TXT a.example.org 10.0.0.0/8",
    )
    assert (t.qclass, t.qtype) == (3, 16)
    assert t.zones == ("a.example.org.", "10.in-addr.arpa.")
    assert [r.pattern for r in t.regexes] == ["^a[.]", "b", "c"]
    assert (len(t.answer), len(t.authority), len(t.additional)) == (2, 1, 1)
    assert (t.rcode, t.ederror) == (wire.NXDOMAIN, (21, "blocked"))
    assert t.fall == fall.Fall(("a.example.org.",))


def test_regexes_are_go_regexes() -> None:
    t = parse(r'      match "^(?<a>[[:digit:]]+)[.]example[.]org[.]\z"')
    found = t.regexes[0].search("42.example.org.")
    assert found is not None and found.group("a") == "42"


@pytest.mark.parametrize(
    ("body", "args", "reason"),
    [
        ("      rcode NOERROR", "in A", "invalid query class in"),
        ("      rcode NOERROR", "IN a", "invalid RR class a"),
        ("      rcode NOERROR", "IN", "Wrong argument count"),
        ("      rcode nxdomain", "IN A", "unknown rcode nxdomain"),
        ("      rcode BADVERS", "IN A", "unknown rcode BADVERS"),
        ("      rcode", "IN A", "Wrong argument count"),
        ("      match", "IN A", "Wrong argument count"),
        ('      match "(unclosed"', "IN A", "could not parse regex: (unclosed, missing )"),
        ('      match "(?<=a)b"', "IN A", "could not parse regex: (?<=a)b, invalid perl operator"),
        (r'      match "(a)\1"', "IN A", r"could not parse regex: (a)\1, invalid escape"),
        ("      answer", "IN A", "Wrong argument count"),
        ("      ederror", "IN A", "Wrong argument count"),
        ("      ederror x", "IN A", "error parsing extended DNS error code x"),
        ("      ederror 70000", "IN A", "error parsing extended DNS error code 70000"),
        ("      ederror 1 a b", "IN A", "Wrong argument count"),
        ("      bogus", "IN A", "unknown property 'bogus'"),
        ("      var x 1", "IN A", "'var' is not supported"),
        ('      answer "{{ nope .Name }} 60 IN A 1.2.3.4"', "IN A", 'function "nope" not defined'),
        ('      answer "{{ .Nope }} 60 IN A 1.2.3.4"', "IN A", "can't evaluate field Nope"),
        ('      answer "{{ .Name 60 IN A 1.2.3.4"', "IN A", "unclosed action"),
        ('      answer "{{ if .Name }}x{{ end }}"', "IN A", "{{if}} is not supported"),
        ('      answer "{{ .Name }}"', "IN A", "invalid resource record in template"),
        ('      authority "{{ .Name }} 60 IN BOGUS x"', "IN A", "unknown RR type 'BOGUS'"),
        ('      answer "a.example.org. 60 IN A 1.2.3"', "IN A", "invalid resource record"),
        ('      additional "a.example.org. 60 IN MX x"', "IN A", "invalid resource record"),
    ],
)
def test_errors_name_file_and_line(body: str, args: str, reason: str) -> None:
    message = error(body, args=args)
    assert reason in message, message
    line = 3 if args == "IN A" else 2  # the option's line, or the template line's own
    assert message.startswith(
        f"plugin/template: /etc/kdns/Corefile:{line} - Error during parsing: "
    ), message


def test_record_data_that_depends_on_the_query_is_checked_per_query() -> None:
    # With sample data the address would be "1" (not an IPv4 address); only the head is checked.
    parse('      answer "{{ .Name }} 60 IN A {{ .Group.ip }}"\n      match "(?P<ip>.*)"')


def test_each_template_line_is_a_link_of_the_chain_in_corefile_order() -> None:
    loaded = seam.load(
        "example.org {\n"
        "    template IN A a.example.org {\n      rcode NXDOMAIN\n    }\n"
        "    whoami\n"
        "    template IN A b.example.org {\n      rcode REFUSED\n    }\n"
        "}\n"
    )
    handler = loaded.servers[0].handler
    zones = []
    while isinstance(handler, TemplateHandler):
        zones.append(handler.template.zones)
        handler = handler.next  # type: ignore[assignment]
    assert zones == [("a.example.org.",), ("b.example.org.",)]
    assert handler.name == "whoami"


def test_a_bad_template_stops_kdns_at_start_with_file_and_line(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(
        '.:1053 {\n    template IN A {\n      answer "{{ lower .Name }} 60 IN A 1.2.3.4"\n    }\n}\n'
    )
    done = clients.run_kdns(["-conf", str(corefile)], cwd=tmp_path)
    assert done.returncode != 0
    err = done.stdout + done.stderr
    assert re.search(r"Corefile:3 - Error during parsing: .*function \"lower\" not defined", err)
    assert "Traceback" not in err

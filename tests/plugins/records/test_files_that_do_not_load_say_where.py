"""Every fault in a records file is reported with the file and line it is on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kdns.authority import zonedata
from kdns.plugins.records import yamlfile
from tests.support import yamlzones

CASES = [
    # (yaml, line, reason fragment)
    (
        """\
        zone: example.test
        records:
          web: {A: 10.0.0.1, BOGUS: x}
        """,
        3,
        "unknown record type 'BOGUS'",
    ),
    (
        """\
        zone: example.test
        records:
          web:
            A: [10.0.0.1, 10.0.0.300]
        """,
        4,
        "bad A record '10.0.0.300': not an IPv4 address",
    ),
    (
        """\
        zone: example.test
        records:
          web: {AAAA: 10.0.0.1}
        """,
        3,
        "bad AAAA record '10.0.0.1': not an IPv6 address",
    ),
    (
        """\
        zone: example.test
        records:
          "@":
            MX:
              - "10 mail"
              - "mail"
        """,
        6,
        "bad MX record 'mail': expected 'PREFERENCE HOST'",
    ),
    (
        """\
        zone: example.test
        records:
          "@": {MX: "high mail"}
        """,
        3,
        "bad MX preference 'high'",
    ),
    (
        """\
        zone: example.test
        records:
          _http._tcp:
            SRV: "10 50 web"
        """,
        4,
        "bad SRV record '10 50 web': expected 'PRIORITY WEIGHT PORT TARGET'",
    ),
    (
        """\
        zone: example.test
        records:
          _http._tcp: {SRV: "10 50 70000 web"}
        """,
        3,
        "bad SRV port '70000': expected a number from 0 to 65535",
    ),
    (
        """\
        zone: example.test
        records:
          www:
            A: 10.0.0.1
            CNAME: web
        """,
        5,
        "CNAME beside other data (A) at 'www.example.test.'",
    ),
    (
        """\
        zone: example.test
        records:
          www: {CNAME: [web, other]}
        """,
        3,
        "CNAME takes exactly one value, not 2",
    ),
    (
        """\
        zone: example.test
        records:
          web: {A: 10.0.0.1}
          mail.example.org.: {A: 10.0.0.25}
        """,
        4,
        "name 'mail.example.org.' is outside zone 'example.test.'",
    ),
    (
        """\
        ttl: 300
        records:
          web: {A: 10.0.0.1}
        """,
        1,
        "missing 'zone'",
    ),
    (
        """\
        zone: example.test
        records:
          web: {A: 10.0.0.1}
        ---
        ttl: 300
        records: {}
        """,
        5,
        "missing 'zone'",
    ),
    (
        """\
        zone: example.test
        records:
          web: {A: [10.0.0.1, 10.0.0.2}
        """,
        3,
        "YAML syntax error",
    ),
    (
        """\
        zone: example.test
        records:
          web: {A: 10.0.0.1
        """,
        3,
        "YAML syntax error",
    ),
    (
        """\
        zone: example.test
        records:
          web: {TXT: "unclosed}
        """,
        3,
        "YAML syntax error",
    ),
    (
        """\
        zone: example.test
        records:
          web:
            A: [10.0.0.1,
                10.0.0.2


        """,
        4,
        "YAML syntax error",
    ),
    (
        """\
        zone: example.test
        records:
          web:
            A: 10.0.0.1
           AAAA: "::1"
        """,
        5,
        "YAML syntax error",
    ),
    (
        """\
        zone: example.test
        records:
          web: {A: 10.0.0.1}
          WEB.example.test.: {AAAA: "::1"}
        """,
        4,
        "name 'web.example.test.' is already defined at line 3",
    ),
    (
        """\
        zone: example.test
        records:
          web:
            A: 10.0.0.1
            a: 10.0.0.2
        """,
        5,
        "duplicate key 'a' (first at line 4)",
    ),
    (
        """\
        zone: example.test
        colour: blue
        """,
        2,
        "unknown key 'colour'",
    ),
    (
        """\
        zone: example.test
        ttl: soon
        """,
        2,
        "bad ttl 'soon'",
    ),
    (
        """\
        zone: example.test
        records:
          web:
            A:
        """,
        4,
        "A: missing value",
    ),
    (
        """\
        zone: example.test
        records:
          web: [10.0.0.1]
        """,
        3,
        "records of 'web' must be a mapping of types to values",
    ),
    (
        """\
        zone: example.test
        records:
          web: {SOA: "ns hostmaster 1 2 3 4 5"}
        """,
        3,
        "SOA at 'web.example.test.': a SOA belongs at the zone apex '@'",
    ),
    (
        """\
        zone: example.test
        records:
          "@": {SOA: "ns hostmaster 1 2 3"}
        """,
        3,
        "bad SOA record",
    ),
    (
        """\
        zone: example.test
        records:
          "@": {CAA: "0 issue"}
        """,
        3,
        "bad CAA record '0 issue': expected 'FLAGS TAG VALUE'",
    ),
    (
        """\
        zone: example.test
        records:
          bad..name: {A: 10.0.0.1}
        """,
        3,
        "bad name 'bad..name'",
    ),
    (
        """\
        - just
        - a list
        """,
        1,
        "a document must be a mapping",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), CASES, ids=[c[2][:40] for c in CASES])
def test_faults_name_their_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = yamlzones.write(tmp_path / "zone.yaml", text)
    with pytest.raises(zonedata.LoadError) as err:
        yamlfile.build([zonedata.read(path)])
    assert err.value.file == str(path)
    assert err.value.line == line
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{path}:{line} - ")


def test_a_file_with_no_zone_is_an_error(tmp_path: Path) -> None:
    path = yamlzones.write(tmp_path / "zone.yaml", "# nothing yet\n")
    with pytest.raises(zonedata.LoadError) as err:
        yamlfile.build([zonedata.read(path)])
    assert str(err.value).startswith(f"{path} - no zone defined")


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(zonedata.LoadError) as err:
        zonedata.read(tmp_path / "absent.yaml")
    assert str(err.value) == f"{tmp_path / 'absent.yaml'} - no such file"


def test_a_zone_defined_twice_names_both_places(tmp_path: Path) -> None:
    one = yamlzones.write(tmp_path / "one.yaml", "zone: example.test\n")
    two = yamlzones.write(tmp_path / "two.yaml", "# again\n\nzone: Example.Test.\n")
    with pytest.raises(zonedata.LoadError) as err:
        yamlfile.build([zonedata.read(one), zonedata.read(two)])
    assert str(err.value) == (f"{two}:3 - zone 'example.test.' is already defined at {one}:1")


def test_values_are_read_as_written(tmp_path: Path) -> None:
    # YAML 1.1 would turn these into False, 448 and 1000.0; a records file keeps the text.
    text = textwrap.dedent(
        """\
        zone: example.test
        records:
          "no": {TXT: [NO, "0700", 1e3]}
          "1": {A: 10.0.0.1}
        """
    )
    (zone,) = yamlfile.parse(text, file="inline.yaml")
    txt = zone.nodes[b"\x02no\x07example\x04test\x00"][zonedata.TXT]
    assert [rd.data for rd in txt.rdata] == [[b"NO"], [b"0700"], [b"1e3"]]
    assert b"\x011\x07example\x04test\x00" in zone.nodes

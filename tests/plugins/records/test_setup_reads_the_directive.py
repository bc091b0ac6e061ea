"""``records FILE... { reload; fallthrough }`` from Corefile text to a serving chain."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path

import pytest

from kdns import config, corefile, wire
from kdns.errors import CorefileError
from kdns.pkg import fall
from kdns.plugins.records import setup as records_setup
from kdns.plugins.records.handler import Records
from tests.support import yamlzones

ZONE = """\
zone: example.test
records:
  web: {A: 10.0.0.1}
"""
REVERSE = """\
zone: 0.0.10.in-addr.arpa
records:
  "1": {PTR: web.example.test.}
"""
README = Path(records_setup.__file__).with_name("README.md")


def directive(corefile_path: Path, text: str) -> corefile.Directive:
    """The first directive of the first block of ``text``, read as if from ``corefile_path``."""
    blocks = corefile.parse(textwrap.dedent(text), filename=str(corefile_path))
    return blocks[0].directives[0]


def load(corefile_path: Path, text: str) -> config.Loaded:
    corefile_path.write_text(textwrap.dedent(text))
    return config.load(corefile.load(corefile_path), default_port=1053)


# --- options -----------------------------------------------------------------------------------


def test_files_resolve_against_the_corefiles_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path.parent)  # the working directory must not matter
    d = directive(tmp_path / "conf" / "Corefile", ". {\n records zones/a.yaml /abs/b.yaml\n}")
    opts = records_setup.parse(d)
    assert opts.files == (tmp_path / "conf" / "zones" / "a.yaml", Path("/abs/b.yaml"))
    assert opts.reload == 0.0
    assert opts.fallthrough == fall.ZERO


def test_reload_and_fallthrough_options(tmp_path: Path) -> None:
    d = directive(
        tmp_path / "Corefile",
        """\
        . {
            records a.yaml {
                reload 1m30s
                fallthrough example.test 10.0.0.0/24
            }
        }
        """,
    )
    opts = records_setup.parse(d)
    assert opts.reload == 90.0
    assert opts.fallthrough.zones == ("example.test.", "0.0.10.in-addr.arpa.")


def test_bare_fallthrough_covers_every_zone(tmp_path: Path) -> None:
    d = directive(tmp_path / "Corefile", ". {\n records a.yaml {\n fallthrough\n }\n}")
    assert records_setup.parse(d).fallthrough == fall.ROOT


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("records", 2, "Wrong argument count or unexpected line ending after 'records'"),
        ("records a.yaml {\n reload 30\n}", 3, 'time: missing unit in duration "30"'),
        ("records a.yaml {\n reload -5s\n}", 3, "must not be negative"),
        ("records a.yaml {\n reload\n}", 3, "Wrong argument count"),
        ("records a.yaml {\n reload 1s 2s\n}", 3, "Wrong argument count"),
        ("records a.yaml {\n reload 1s\n reload 2s\n}", 4, "'reload' given twice"),
        ("records a.yaml {\n ttl 30\n}", 3, "unknown property 'ttl'"),
        ("records a.yaml {\n fallthrough 10.0.0.0/40\n}", 3, "invalid CIDR '10.0.0.0/40'"),
    ],
)
def test_option_errors_point_at_the_corefile_line(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = tmp_path / "Corefile"
    d = directive(path, ". {\n" + body + "\n}\n")
    with pytest.raises(CorefileError) as err:
        records_setup.parse(d)
    assert str(err.value).startswith(f"plugin/records: {path}:{line} - Error during parsing: ")
    assert reason in str(err.value)


# --- loading through config.load ---------------------------------------------------------------


def test_a_corefile_with_records_serves_the_zones(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "example.yaml", ZONE)
    yamlzones.write(tmp_path / "reverse.yaml", REVERSE)
    loaded = load(
        tmp_path / "Corefile",
        """\
        example.test 0.0.10.in-addr.arpa {
            records example.yaml reverse.yaml
        }
        """,
    )
    (server,) = loaded.servers
    assert isinstance(server.handler, Records)
    assert yamlzones.ask(server.handler, "web.example.test.", "A").answer == [
        "web.example.test. 300 IN A 10.0.0.1"
    ]
    assert yamlzones.ask(server.handler, "1.0.0.10.in-addr.arpa.", "PTR").answer == [
        "1.0.0.10.in-addr.arpa. 300 IN PTR web.example.test."
    ]
    # Nothing after records in this chain: a foreign name meets "no next plugin".
    foreign = yamlzones.raw(server.handler, "example.org.", "A")
    assert (foreign.rcode, foreign.error) == (
        wire.SERVFAIL,
        "plugin/records: no next plugin found",
    )
    assert loaded.hooks.startup == [] and loaded.hooks.cleanup == []


def test_reload_registers_a_startup_and_a_cleanup_hook(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "example.yaml", ZONE)
    loaded = load(tmp_path / "Corefile", ". {\n records example.yaml {\n reload 10s\n }\n}\n")
    assert len(loaded.hooks.startup) == 1
    assert len(loaded.hooks.cleanup) == 1


def test_a_missing_file_is_reported_at_the_corefile_line(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "example.yaml", ZONE)
    with pytest.raises(CorefileError) as err:
        load(tmp_path / "Corefile", ". {\n\n records example.yaml absent.yaml\n}\n")
    assert str(err.value) == (
        f"plugin/records: {tmp_path / 'Corefile'}:3 - Error during parsing: "
        f"{tmp_path / 'absent.yaml'}: no such file"
    )


def test_a_bad_file_is_reported_at_its_own_line(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "example.yaml", ZONE + "  mail: {MX: oops}\n")
    with pytest.raises(CorefileError) as err:
        load(tmp_path / "Corefile", ". {\n records example.yaml\n}\n")
    assert str(err.value) == (
        f"plugin/records: {tmp_path / 'example.yaml'}:4 - Error during parsing: "
        "bad MX record 'oops': expected 'PREFERENCE HOST'"
    )


def test_a_zone_in_two_files_is_an_error(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "a.yaml", ZONE)
    yamlzones.write(tmp_path / "b.yaml", ZONE)
    with pytest.raises(CorefileError) as err:
        load(tmp_path / "Corefile", ". {\n records a.yaml b.yaml\n}\n")
    assert f"{tmp_path / 'b.yaml'}:1" in str(err.value)
    assert f"already defined at {tmp_path / 'a.yaml'}:1" in str(err.value)


def test_a_zone_in_two_directives_of_one_block_is_an_error(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "a.yaml", ZONE)
    yamlzones.write(tmp_path / "b.yaml", "# the same zone again\n" + ZONE)
    with pytest.raises(CorefileError) as err:
        load(tmp_path / "Corefile", ". {\n records a.yaml\n records b.yaml\n}\n")
    assert str(err.value) == (
        f"plugin/records: {tmp_path / 'b.yaml'}:2 - Error during parsing: "
        f"zone 'example.test.' is already defined at {tmp_path / 'a.yaml'}:1"
    )


def test_the_same_zone_in_two_blocks_is_no_conflict(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "a.yaml", ZONE)
    loaded = load(
        tmp_path / "Corefile",
        ". {\n records a.yaml\n}\nexample.test:1054 {\n records a.yaml\n}\n",
    )
    assert len(loaded.servers) == 2


@pytest.mark.parametrize(
    ("keys", "warned"),
    [
        (".", False),
        ("example.test", False),
        ("test", False),
        ("example.org", True),
        ("sub.example.test", True),  # only part of the zone is served
        ("example.org sub.example.test", True),
        ("example.org example.test:1054", True),  # that key is another port's block
    ],
)
def test_a_zone_no_key_of_the_block_covers_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, keys: str, warned: bool
) -> None:
    yamlzones.write(tmp_path / "a.yaml", ZONE)
    with caplog.at_level(logging.WARNING, logger="kdns"):
        load(tmp_path / "Corefile", f"{keys} {{\n records a.yaml\n}}\n")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if not warned:
        assert warnings == []
        return
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        f"plugin/records: {tmp_path / 'a.yaml'}:1: zone 'example.test.' is not covered by "
    )
    assert "do not reach this plugin" in warnings[0]


def test_the_embedded_example_loads_and_answers() -> None:
    from kdns import cli

    loaded = config.load(corefile.load(cli.embedded_corefile()), default_port=1053)
    server = next(s for s in loaded.servers if "example.test." in s.zones)
    chain = server.handler
    assert yamlzones.ask(chain, "www.example.test.", "A").answer == [
        "www.example.test. 300 IN CNAME web.example.test.",
        "web.example.test. 60 IN A 10.0.0.1",
        "web.example.test. 60 IN A 10.0.0.2",
    ]
    assert yamlzones.ask(chain, "1.0.0.10.in-addr.arpa.", "PTR").answer == [
        "1.0.0.10.in-addr.arpa. 300 IN PTR web.example.test."
    ]
    big = yamlzones.ask(chain, "big.example.test.", "A")
    assert len(big.answer) == 40
    # Without EDNS (512 bytes) the big answer is cut at a record boundary with TC set.
    req = yamlzones.request("big.example.test.", "A")
    reply = wire.finalize(req, yamlzones.raw(chain, "big.example.test.", "A"), req.size)
    assert len(reply) <= 512
    assert reply[2] & wire.TC


# --- the README --------------------------------------------------------------------------------


def test_readme_has_the_coredns_sections() -> None:
    text = README.read_text()
    headings = re.findall(r"^## (\w+)", text, flags=re.M)
    assert headings[:4] == ["Name", "Description", "Syntax", "Examples"]


@pytest.mark.parametrize(
    "example",
    re.findall(r"~~~ corefile\n(.*?)~~~", README.read_text(), flags=re.S),
)
def test_readme_examples_set_up(tmp_path: Path, example: str) -> None:
    # Files named in the examples exist beside the Corefile; only records' own setup runs, so
    # the examples do not depend on the other plugins they show.
    (tmp_path / "example.test.yaml").write_text(
        (Path(config.__file__).parent / "defaults" / "example.test.yaml").read_text()
    )
    for block in corefile.parse(example, filename=str(tmp_path / "Corefile")):
        server = config.ServerConfig(
            block=block, zones=tuple(k.zone for k in block.keys), port=53, scheme="dns"
        )
        hooks = config.Hooks()
        for d in block.directives:
            if d.name == "records":
                records_setup.setup(d, config.Controller(d, server, hooks))
        assert [name for name, _ in server.factories] == ["records"]

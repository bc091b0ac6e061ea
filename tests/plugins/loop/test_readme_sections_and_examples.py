"""The README has CoreDNS's sections, and its ``corefile`` examples set up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdns import config, corefile
from kdns.plugins.loop import setup

README = Path(setup.__file__).with_name("README.md")


def test_readme_has_the_coredns_sections() -> None:
    headings = re.findall(r"^## (.+)$", README.read_text(), flags=re.M)
    assert headings == ["Name", "Description", "Syntax", "Examples", "Differences from CoreDNS"]


@pytest.mark.parametrize(
    "example", re.findall(r"~~~ corefile\n(.*?)~~~", README.read_text(), flags=re.S)
)
def test_readme_examples_set_up(example: str) -> None:
    if "/etc/resolv.conf" in example and not Path("/etc/resolv.conf").is_file():
        pytest.skip("no /etc/resolv.conf on this host")
    loaded = config.load(corefile.parse(example))
    assert loaded.servers[0].handler.name == "loop"

"""The README has CoreDNS's sections, and every ``corefile`` example in it sets up (as CoreDNS's
``test/readme_test.go`` checks for every plugin)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdns import config, corefile
from kdns.plugins.cache import setup

README = Path(setup.__file__).with_name("README.md")


def test_readme_has_the_coredns_sections() -> None:
    headings = re.findall(r"^## (.+)$", README.read_text(), flags=re.M)
    assert headings == [
        "Name",
        "Description",
        "Syntax",
        "Metrics",
        "Examples",
        "Differences from CoreDNS",
    ]


@pytest.mark.parametrize(
    "example", re.findall(r"~~~ corefile\n(.*?)~~~", README.read_text(), flags=re.S)
)
def test_readme_examples_set_up(example: str) -> None:
    loaded = config.load(corefile.parse(example))
    assert any(name == "cache" for s in loaded.servers for name, _ in s.factories)

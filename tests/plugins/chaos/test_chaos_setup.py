"""``chaos [VERSION] [AUTHORS...]``: what the built handler answers in class CH."""

from __future__ import annotations

import dns.message
import pytest

from kdns import __version__
from kdns.errors import CorefileError
from tests.support import seam


def texts(body: str, name: str) -> list[str]:
    handler = seam.chain_handler(seam.load(f". {{\n    {body}\n}}\n"), "chaos")
    req = seam.request(name, "TXT", rdclass="CH")
    msg: dns.message.Message = seam.reply(req, handler.serve(req))
    return [s.decode() for rrset in msg.answer for rdata in rrset for s in rdata.strings]


def test_defaults_name_kdns_and_its_version() -> None:
    assert texts("chaos", "version.bind.") == [f"kdns-{__version__}"]
    assert texts("chaos", "version.server.") == [f"kdns-{__version__}"]
    assert texts("chaos", "authors.bind.") == ["kdns developers"]


def test_version_alone_keeps_the_default_authors() -> None:
    assert texts("chaos v1", "version.bind.") == ["v1"]
    assert texts("chaos v1", "authors.bind.") == ["kdns developers"]


def test_version_and_authors() -> None:
    body = "chaos CoreDNS-001 info@coredns.io other@example.org"
    assert texts(body, "version.server.") == ["CoreDNS-001"]
    assert sorted(texts(body, "authors.bind.")) == ["info@coredns.io", "other@example.org"]


def test_a_block_is_an_error_naming_the_line() -> None:
    with pytest.raises(CorefileError) as err:
        seam.load(". {\n    chaos v1 {\n        x\n    }\n}\n")
    assert str(err.value).startswith("plugin/chaos: Corefile:2 - Error during parsing: ")
    assert "Wrong argument count" in str(err.value)

"""The same zone and port in several server blocks: allowed when they bind different addresses
(each address served by its own block, as AKS LocalDNS needs), an error naming both otherwise."""

from __future__ import annotations

import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from tests.support import clients


def load(text: str) -> config.Loaded:
    return config.load(corefile.parse(text, filename="Corefile"))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "example.org {\n}\n\nEXAMPLE.org. {\n}\n",
            4,
            "cannot serve dns://example.org. - zone already defined at Corefile:1",
        ),
        (
            "a.org:53 {\n}\nb.org dns://a.org.:53 {\n}\n",
            3,
            "cannot serve dns://a.org.:53 - zone already defined at Corefile:1",
        ),
        (
            "10.0.0.0/15 {\n}\n10.1.0.0/16 {\n}\n",
            3,
            "cannot serve dns://1.10.in-addr.arpa. - zone already defined at Corefile:1",
        ),
        (
            "example.org:53 {\n    bind 127.0.0.1\n}\nexample.org:53 {\n    bind 127.0.0.1\n}\n",
            4,
            "cannot serve dns://example.org.:53 on 127.0.0.1 - zone already defined at Corefile:1",
        ),
        (
            "example.org:53 {\n    bind 127.0.0.2\n}\nexample.org:53 {\n}\n",
            4,
            "cannot serve dns://example.org.:53 - zone overlap listener capacity with "
            "dns://example.org.:53 on 127.0.0.2 (Corefile:1)",
        ),
        (
            "example.org:53 {\n}\nexample.org:53 {\n    bind 127.0.0.2\n}\n",
            3,
            "cannot serve dns://example.org.:53 on 127.0.0.2 - zone overlap listener capacity "
            "with dns://example.org.:53 (Corefile:1)",
        ),
    ],
    ids=["same-zone", "same-zone-port", "reverse", "same-bind", "bound-then-all", "all-then-bound"],
)
def test_blocks_that_would_share_an_address_are_refused(text: str, line: int, message: str) -> None:
    with pytest.raises(CorefileError) as caught:
        load(text)
    assert str(caught.value) == f"Corefile:{line} - Error during parsing: {message}"


def test_different_binds_load_as_separate_servers() -> None:
    loaded = load(
        "example.org:53 {\n    bind 127.0.0.1\n    whoami\n}\n"
        "example.org:53 {\n    bind 127.0.0.2\n    chaos\n}\n"
    )
    assert [s.listen for s in loaded.servers] == [["127.0.0.1"], ["127.0.0.2"]]


def test_each_address_is_answered_by_its_own_block() -> None:
    zone = "zone: example.org\nrecords:\n  www: {{A: {address}}}\n"
    text = (
        "example.org:{port} {\n    bind 127.0.0.1\n    records one.yaml\n}\n"
        "example.org:{port} {\n    bind 127.0.0.2\n    records two.yaml\n}\n"
    )
    files = {
        "one.yaml": zone.format(address="192.0.2.1"),
        "two.yaml": zone.format(address="192.0.2.2"),
    }
    with clients.serve(text, files=files) as srv:
        first = srv.query("www.example.org.", "A")
        srv.host = "127.0.0.2"
        second = srv.query("www.example.org.", "A")
    assert [rr.address for rr in first.answer[0]] == ["192.0.2.1"]
    assert [rr.address for rr in second.answer[0]] == ["192.0.2.2"]

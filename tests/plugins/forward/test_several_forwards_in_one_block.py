"""Several ``forward`` lines in one server block (CoreDNS since 1.9.4): each forwards its own
zone to its own upstreams, and a query goes to the most specific zone that holds it, whatever
the order of the lines."""

from __future__ import annotations

import pytest

from tests.support import children
from tests.support.upstream import FakeUpstream


@pytest.mark.parametrize("corp_first", [True, False], ids=["corp-first", "root-first"])
def test_each_upstream_is_reached_only_for_its_zone(corp_first: bool) -> None:
    with FakeUpstream() as corp, FakeUpstream() as internet:
        corp.answers = {("db.corp.test.", "A"): ["10.1.0.5"]}
        lines = [
            f"    forward corp.test 127.0.0.1:{corp.port}\n",
            f"    forward . 127.0.0.1:{internet.port}\n",
        ]
        if not corp_first:
            lines.reverse()
        text = ".:{port} {\n    bind 127.0.0.1\n" + "".join(lines) + "}\n"
        with children.serve(text) as srv:
            corp_reply = srv.query("db.corp.test.", "A")
            outside = srv.query("www.example.net.", "A")
        assert [rr.address for rr in corp_reply.answer[0]] == ["10.1.0.5"]
        assert [rr.address for rr in outside.answer[0]] == ["192.0.2.1"]
        assert corp.names() == ["db.corp.test."]
        assert "db.corp.test." not in internet.names()
        assert "www.example.net." in internet.names()

"""``header``: query rules before the chain, response rules on replies plugins write."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from kdns.errors import CorefileError
from kdns.plugins.header import setup
from kdns.plugins.header.rules import FLAGS
from tests.support import clients, seam

ZONE = "zone: example.test\nrecords:\n  web: {A: 192.0.2.1}\n"


def corefile(rules: str) -> str:
    return (
        "example.test:{port} {\n    bind 127.0.0.1\n    header {\n"
        + "".join(f"        {r}\n" for r in rules.split(";"))
        + "    }\n    records zone.yaml\n}\n"
    )


def ask(port: int, name: str, *, rd: bool) -> dns.message.Message:
    q = dns.message.make_query(name, "A")
    if not rd:
        q.flags &= ~dns.flags.RD
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


def test_response_rules_set_and_clear_flags() -> None:
    with clients.serve(
        corefile("response set ra;response clear aa rd"), files={"zone.yaml": ZONE}
    ) as srv:
        for name in ("web.example.test.", "none.example.test."):
            reply = ask(srv.port, name, rd=True)
            assert reply.flags & dns.flags.RA
            assert not reply.flags & dns.flags.AA
            assert not reply.flags & dns.flags.RD


def test_query_rules_change_what_the_reply_echoes_and_the_last_rule_wins() -> None:
    with clients.serve(
        corefile("query clear rd;QUERY SET RD;set aa"), files={"zone.yaml": ZONE}
    ) as srv:
        reply = ask(srv.port, "web.example.test.", rd=False)
        assert reply.flags & dns.flags.RD
        assert reply.flags & dns.flags.AA
        assert [rr.address for rr in reply.answer[0]] == ["192.0.2.1"]


def test_errors_the_server_writes_keep_their_flags() -> None:
    text = ".:{port} {\n    bind 127.0.0.1\n    header {\n        response set aa\n    }\n}\n"
    with clients.serve(text) as srv:
        reply = srv.query("anything.", "A")
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert not reply.flags & dns.flags.AA


def masks(text: str) -> tuple[int, int, int, int]:
    d = seam.directive(f". {{\n    header {{\n{text}\n    }}\n}}\n", "header")
    query, response = setup.parse(d)
    return query.set, query.clear, response.set, response.clear


def test_rules_fold_into_masks() -> None:
    aa, ra, rd = FLAGS["aa"], FLAGS["ra"], FLAGS["rd"]
    assert masks("query set rd\nresponse set ra aa\nresponse clear aa") == (rd, 0, ra, aa)
    assert masks("set ra") == (0, 0, ra, 0), "no selector: the rule is for responses"


@pytest.mark.parametrize(
    "text",
    [
        "header",
        "header {\n}",
        "header {\n    foo\n}",
        "header {\n    response set\n}",
        "header {\n    query foo rd\n}",
        "header {\n    query set ad\n}",
    ],
)
def test_bad_rules_stop_startup(text: str) -> None:
    with pytest.raises(CorefileError, match=r"^plugin/header: Corefile:\d+ - Error during parsing"):
        seam.load(f". {{\n    {text}\n}}\n")


def test_only_the_first_header_with_rules_is_read() -> None:
    loaded = seam.load(
        ". {\n    header {\n    }\n    header {\n        query set rd\n    }\n"
        "    header {\n        query foo rd\n    }\n}\n"
    )
    assert [name for name, _ in loaded.servers[0].factories] == ["header"]

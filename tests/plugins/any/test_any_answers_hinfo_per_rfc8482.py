"""``any``: ANY gets RFC 8482's HINFO for every name; other types go on down the chain."""

from __future__ import annotations

from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kdns.errors import CorefileError
from tests.support import clients, kdnsproc, seam

ZONE = "zone: example.test\nrecords:\n  web: {A: 192.0.2.1}\n"
COREFILE = "example.test:{port} {\n    bind 127.0.0.1\n    any\n    records zone.yaml\n}\n"


@pytest.fixture(scope="module")
def srv() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE, files={"zone.yaml": ZONE}) as server:
        yield server


@pytest.mark.parametrize("name", ["web.example.test.", "NoSuch.Example.TEST.", "example.test."])
@pytest.mark.parametrize("tcp", [False, True])
def test_any_gets_one_hinfo_with_the_clients_spelling(
    srv: kdnsproc.Server, name: str, tcp: bool
) -> None:
    reply = srv.query(name, "ANY", tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA
    assert len(reply.answer) == 1 and not reply.authority and not reply.additional
    rrset = reply.answer[0]
    assert rrset.name.to_text() == name
    assert rrset.rdtype == dns.rdatatype.HINFO and rrset.ttl == 8482
    (hinfo,) = list(rrset)
    assert (hinfo.cpu, hinfo.os) == (b"ANY obsoleted", b"See RFC 8482")


def test_other_types_reach_the_next_plugin(srv: kdnsproc.Server) -> None:
    reply = srv.query("web.example.test.", "A")
    assert [rr.address for rr in reply.answer[0]] == ["192.0.2.1"]
    assert srv.query("nothere.example.test.", "A").rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize("line", ["any foo", "any {\n    }"])
def test_any_takes_no_arguments_and_no_block(line: str) -> None:
    with pytest.raises(CorefileError, match=r"^plugin/any: /etc/Corefile:2 - Error during parsing"):
        seam.load(f"example.test {{\n    {line}\n}}\n", filename="/etc/Corefile")

"""nsid: a query carrying the NSID option gets DATA back in the reply's OPT (RFC 5001); a query
that does not ask gets the very bytes it got before."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from tests.support import clients, kdnsproc

MANY = ", ".join(f"10.7.0.{n}" for n in range(1, 61))
ZONE = (
    "zone: id.test\nrecords:\n  www.named: {A: 192.0.2.1}\n  www.host: {A: 192.0.2.2}\n"
    f"  many.named: {{A: [{MANY}]}}\n"
)
COREFILE = """\
named.id.test {
    nsid kdns node-a
    records id.yaml
}
host.id.test {
    nsid
    records id.yaml
}
id.test {
    records id.yaml
}
"""
NSID = dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE, files={"id.yaml": ZONE}) as srv:
        yield srv


def raw(server: kdnsproc.Server, name: str, *, proto: str = "udp", **kw: object) -> bytes:
    query = dns.message.make_query(name, "A", id=4321, **kw)  # type: ignore[arg-type]
    reply = clients.exchange(query.to_wire(), server.port, proto=proto)
    assert reply is not None
    return reply


def nsid_of(reply: bytes) -> bytes | None:
    found = [o for o in dns.message.from_wire(reply).options if o.otype == 3]
    return found[0].nsid if found else None  # type: ignore[attr-defined]


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_a_query_asking_for_nsid_gets_the_data(server: kdnsproc.Server, proto: str) -> None:
    reply = raw(server, "named.id.test.", proto=proto, use_edns=0, options=[NSID])
    assert nsid_of(reply) == b"kdns node-a"
    reply = raw(server, "www.named.id.test.", proto=proto, use_edns=0, options=[NSID])
    assert nsid_of(reply) == b"kdns node-a"
    assert [r.address for r in dns.message.from_wire(reply).answer[0]] == ["192.0.2.1"]


def test_a_truncated_reply_keeps_the_nsid(server: kdnsproc.Server) -> None:
    reply = raw(server, "many.named.id.test.", use_edns=0, payload=512, options=[NSID])
    assert len(reply) <= 512
    assert dns.message.from_wire(reply).flags & dns.flags.TC
    assert nsid_of(reply) == b"kdns node-a"


def test_the_default_data_is_the_host_name(server: kdnsproc.Server) -> None:
    reply = raw(server, "host.id.test.", use_edns=0, options=[NSID])
    assert nsid_of(reply) == socket.gethostname().encode()


def test_queries_that_do_not_ask_get_the_same_bytes(server: kdnsproc.Server) -> None:
    without = COREFILE.replace("    nsid kdns node-a\n", "").replace("    nsid\n", "")
    assert "nsid" not in without
    # Positive answers only: a negative one's SOA serial is the zone file's mtime, which differs.
    cases = [
        ("www.named.id.test.", {}),
        ("www.named.id.test.", {"use_edns": 0}),
        ("www.host.id.test.", {"use_edns": 0, "want_dnssec": True}),
        ("www.named.id.test.", {"use_edns": 0, "payload": 4096}),
    ]
    with_nsid = [raw(server, name, **kw) for name, kw in cases]
    with clients.serve(without, files={"id.yaml": ZONE}) as plain_server:
        plain = [raw(plain_server, name, **kw) for name, kw in cases]
    assert with_nsid == plain
    assert all(nsid_of(reply) is None for reply in with_nsid)


def test_dig_nsid_shows_the_text(server: kdnsproc.Server, dig: str) -> None:
    result = clients.run_dig(dig, server.port, "+nsid", "www.named.id.test", "A")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r'; NSID: .*\("kdns node-a"\)', result.stdout), result.stdout
    plain = clients.run_dig(dig, server.port, "www.named.id.test", "A")
    assert "NSID" not in plain.stdout


def load(tmp_path: Path, text: str) -> config.Loaded:
    path = tmp_path / "Corefile"
    path.write_text(text)
    return config.load(corefile.parse(text, filename=str(path)))


def test_a_second_nsid_in_a_block_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorefileError) as err:
        load(tmp_path, ". {\n    nsid a\n    nsid b\n    whoami\n}\n")
    assert f"{tmp_path / 'Corefile'}:3 - Error during parsing: " in str(err.value)
    assert "can only be used once per server block" in str(err.value)

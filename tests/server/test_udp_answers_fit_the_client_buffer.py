"""USER-NEEDS #22 with a records zone: a UDP answer fits the client's buffer, cut at a record
boundary with TC=1; TCP carries everything; dig falls back to TCP on TC by itself.

RFC 1035 4.2.1 caps UDP at 512 bytes without EDNS; RFC 6891 6.2.5 lets the client advertise
more (kdns honours it, treating less than 512 as 512), up to 1,232 bytes: above that kdns cuts
UDP replies whatever the client advertises (DNS Flag Day 2020), so that a small query never draws
a large reply (amplification, issue 9). RFC 2181 9: a truncated reply sets TC, and
the records it keeps must be whole; the OPT record stays, so the client still sees EDNS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import pytest

from tests.support import clients, kdnsproc

BIG = 60  # about 1 KB of A records: over 512, under 1232
HUGE = 120  # about 2 KB: over 1232
MX, GLUE = 10, 5  # an answer of 10 MX records that fits in 512, with 50 glue A records that do not


def addresses(prefix: str, count: int) -> list[str]:
    return [f"{prefix}.{n // 250}.{n % 250 + 1}" for n in range(count)]


def zone() -> str:
    lines = [
        "zone: fit.test",
        "ttl: 30",
        "records:",
        f"  big: {{A: [{', '.join(addresses('10.1', BIG))}]}}",
        f"  huge: {{A: [{', '.join(addresses('10.2', HUGE))}]}}",
        "  small: {A: 10.3.0.1}",
        f"  mx: {{MX: [{', '.join(f'{n} m{n}' for n in range(1, MX + 1))}]}}",
    ]
    for n in range(1, MX + 1):
        lines.append(f"  m{n}: {{A: [{', '.join(addresses(f'10.{40 + n}', GLUE))}]}}")
    return "\n".join(lines) + "\n"


COREFILE = """\
fit.test {
    records fit.yaml
}
"""

#: Each A record after the first: a 2-byte pointer to the question name, type, class, TTL,
#: rdlength, and 4 bytes of address.
A_RECORD = 2 + 10 + 4
OPT_RECORD = 11


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE, files={"fit.yaml": zone()}) as srv:
        yield srv


def fetch(
    server: kdnsproc.Server, name: str, rdtype: str = "A", *, proto: str = "udp", **kw: object
) -> tuple[bytes, dns.message.Message]:
    query = clients.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    raw = clients.exchange(query.to_wire(), server.port, proto=proto)
    assert raw is not None, f"no reply for {name}"
    # Strict parse: a record cut in the middle or bytes after the last one raise here.
    return raw, dns.message.from_wire(raw)


def answer_addresses(reply: dns.message.Message) -> list[str]:
    return [rdata.address for rrset in reply.answer for rdata in rrset]


def check_cut(raw: bytes, reply: dns.message.Message, *, name: str, limit: int, opt: bool) -> int:
    """The reply is TC, within ``limit``, holds whole records only, and as many as fit."""
    assert reply.flags & dns.flags.TC, "truncated replies set TC"
    assert reply.rcode() == dns.rcode.NOERROR
    assert len(raw) <= limit
    kept = len(answer_addresses(reply))
    assert kept > 0, "as many records as fit, not none"
    question = len(name) + 1 + 4
    expected = 12 + question + kept * A_RECORD + (OPT_RECORD if opt else 0)
    assert len(raw) == expected, "the cut falls right after a record"
    assert len(raw) + A_RECORD > limit, "one more record would not have fit"
    assert (reply.opt is not None) == opt
    return kept


def test_without_edns_a_big_answer_is_cut_to_512_bytes(server: kdnsproc.Server) -> None:
    raw, reply = fetch(server, "big.fit.test.")
    kept = check_cut(raw, reply, name="big.fit.test.", limit=512, opt=False)
    assert kept < BIG
    assert set(answer_addresses(reply)) <= set(addresses("10.1", BIG))


def test_edns_1232_fits_the_big_answer_whole(server: kdnsproc.Server) -> None:
    raw, reply = fetch(server, "big.fit.test.", use_edns=0, payload=1232)
    assert not reply.flags & dns.flags.TC
    assert 512 < len(raw) <= 1232
    assert sorted(answer_addresses(reply)) == sorted(addresses("10.1", BIG))
    assert reply.payload == 1232


def test_edns_1232_cuts_a_huge_answer_and_keeps_opt(server: kdnsproc.Server) -> None:
    raw, reply = fetch(server, "huge.fit.test.", use_edns=0, payload=1232)
    kept = check_cut(raw, reply, name="huge.fit.test.", limit=1232, opt=True)
    assert BIG < kept < HUGE


@pytest.mark.parametrize(
    ("payload", "limit"),
    [
        (100, 512),  # below 512 counts as 512 (RFC 6891 6.2.5)
        (700, 700),
        (1500, 1232),  # the UDP cap
        (4096, 1232),
    ],
)
def test_the_client_buffer_size_is_the_limit(
    server: kdnsproc.Server, payload: int, limit: int
) -> None:
    raw, reply = fetch(server, "huge.fit.test.", use_edns=0, payload=payload)
    check_cut(raw, reply, name="huge.fit.test.", limit=limit, opt=True)


def test_a_large_client_buffer_still_gets_at_most_1232_bytes_over_udp(
    server: kdnsproc.Server,
) -> None:
    query = clients.make_query("huge.fit.test.", use_edns=0, payload=4096)
    raw, reply = fetch(server, "huge.fit.test.", use_edns=0, payload=4096)
    assert len(raw) <= 1232 and reply.flags & dns.flags.TC
    assert len(raw) < 30 * len(query.to_wire()), "amplification stays bounded"
    raw, reply = fetch(server, "huge.fit.test.", use_edns=0, payload=4096, proto="tcp")
    assert not reply.flags & dns.flags.TC
    assert len(raw) > 1232
    assert sorted(answer_addresses(reply)) == sorted(addresses("10.2", HUGE))


@pytest.mark.parametrize("name", ["big.fit.test.", "huge.fit.test."])
def test_tcp_carries_every_record(server: kdnsproc.Server, name: str) -> None:
    _, reply = fetch(server, name, proto="tcp")
    assert not reply.flags & dns.flags.TC
    count = BIG if name.startswith("big") else HUGE
    assert len(answer_addresses(reply)) == count


def test_a_small_answer_is_not_truncated(server: kdnsproc.Server) -> None:
    _, reply = fetch(server, "small.fit.test.")
    assert not reply.flags & dns.flags.TC
    assert answer_addresses(reply) == ["10.3.0.1"]


def test_truncated_replies_echo_the_client_case(server: kdnsproc.Server) -> None:
    raw, reply = fetch(server, "BiG.FiT.TeSt.")
    check_cut(raw, reply, name="BiG.FiT.TeSt.", limit=512, opt=False)
    assert reply.question[0].name.to_text() == "BiG.FiT.TeSt."
    assert reply.answer[0].name.to_text() == "BiG.FiT.TeSt."


def test_additional_records_are_dropped_before_answers(server: kdnsproc.Server) -> None:
    raw, reply = fetch(server, "mx.fit.test.", "MX")
    assert len(raw) <= 512
    assert reply.flags & dns.flags.TC, "records were left out, so TC (miekg/dns Msg.Truncate)"
    (mx,) = reply.answer
    assert len(mx) == MX, "every answer record is kept"
    glue = sum(len(rrset) for rrset in reply.additional)
    assert glue < MX * GLUE

    raw, reply = fetch(server, "mx.fit.test.", "MX", use_edns=0, payload=4096)
    assert not reply.flags & dns.flags.TC
    assert sum(len(rrset) for rrset in reply.additional) == MX * GLUE


def dig_answers(stdout: str) -> list[str]:
    return re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", stdout, re.M)


def dig_size(stdout: str) -> int:
    match = re.search(r"MSG SIZE\s+rcvd: (\d+)", stdout)
    assert match, stdout
    return int(match.group(1))


def dig_flags(stdout: str) -> set[str]:
    match = re.search(r"^;; flags: ([a-z ]+);", stdout, re.M)
    assert match, stdout
    return set(match.group(1).split())


def test_dig_without_ignore_retries_over_tcp_and_gets_everything(
    server: kdnsproc.Server, dig: str
) -> None:
    result = clients.run_dig(dig, server.port, "+noedns", "huge.fit.test", "A")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Truncated, retrying in TCP mode" in result.stdout + result.stderr
    assert sorted(dig_answers(result.stdout), key=ipaddress.ip_address) == addresses("10.2", HUGE)
    assert dig_size(result.stdout) > 1232


@pytest.mark.parametrize(
    ("args", "limit"),
    [(["+noedns"], 512), (["+bufsize=1232"], 1232), (["+bufsize=600"], 600)],
)
def test_dig_with_ignore_shows_the_udp_cut(
    server: kdnsproc.Server, dig: str, args: list[str], limit: int
) -> None:
    result = clients.run_dig(dig, server.port, "+ignore", *args, "huge.fit.test", "A")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tc" in dig_flags(result.stdout), result.stdout
    assert dig_size(result.stdout) <= limit
    assert 0 < len(dig_answers(result.stdout)) < HUGE
    assert "retrying in TCP mode" not in result.stdout


def test_dig_over_tcp_gets_everything(server: kdnsproc.Server, dig: str) -> None:
    result = clients.run_dig(dig, server.port, "+tcp", "big.fit.test", "A")
    assert sorted(dig_answers(result.stdout), key=ipaddress.ip_address) == addresses("10.1", BIG)
    assert "Truncated" not in result.stdout

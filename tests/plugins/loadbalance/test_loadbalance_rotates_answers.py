"""Round robin over pre-rendered answers: what moves, what stays, and truncation (USER-NEEDS 22)."""

from __future__ import annotations

import ipaddress
from collections import Counter

import dns.flags
import dns.message
import pytest

from kdns import plugin, wire
from kdns.plugins.loadbalance import handler, plan
from tests.support import seam

NAME = "svc.example.org."


def addresses(n: int, name: str = NAME, prefix: str = "10.0.") -> list[str]:
    """``n`` A records, addresses ``prefix`` (two octets) then 0.1, 0.2, ..."""
    return [f"{name} 30 IN A {prefix}{i // 250}.{i % 250 + 1}" for i in range(n)]


def serve(
    lb: handler.LoadBalance, name: str = NAME, rdtype: str = "A", **kw: object
) -> tuple[wire.Answer, dns.message.Message]:
    req = seam.request(name, rdtype, **kw)  # type: ignore[arg-type]
    answer = lb.serve(req)
    assert isinstance(answer, wire.Answer)
    return answer, seam.reply(req, answer)


def texts(rrsets: list[dns.rrset.RRset]) -> list[str]:
    return [f"{r.rdtype.name} {rd.to_text()}" for r in rrsets for rd in r]


def test_rotations_differ_across_queries_and_keep_every_record() -> None:
    upstream = seam.answer(NAME, "A", addresses(5))
    lb = handler.LoadBalance(seam.Next(upstream))
    orders = [texts(serve(lb)[1].answer) for _ in range(10)]
    assert len({o[0] for o in orders}) == 5  # every record gets to be first
    for order in orders:
        assert sorted(order) == sorted(texts(seam.reply(seam.request(NAME), upstream).answer))
    assert orders[0] != orders[1]


def test_ttls_flags_and_counts_are_preserved() -> None:
    upstream = seam.answer(NAME, "A", addresses(3), authoritative=True)
    lb = handler.LoadBalance(seam.Next(upstream))
    answer, reply = serve(lb)
    assert (answer.ancount, answer.nscount, answer.arcount) == (3, 0, 0)
    assert answer.flags == upstream.flags and answer.rcode == upstream.rcode
    assert reply.flags & dns.flags.AA
    assert reply.answer[0].ttl == 30
    assert reply.question[0].name.to_text() == NAME


def test_non_address_records_keep_their_order_and_cnames_stay_first() -> None:
    upstream = seam.answer(
        "www.example.org.",
        "A",
        [
            "www.example.org. 30 IN CNAME svc.example.org.",
            *addresses(4),
            "svc.example.org. 30 IN TXT one",
            "svc.example.org. 30 IN TXT two",
        ],
    )
    lb = handler.LoadBalance(seam.Next(upstream))
    firsts = set()
    for _ in range(8):
        order = texts(serve(lb, "www.example.org.")[1].answer)
        assert order[0] == "CNAME svc.example.org."
        # CoreDNS's grouping: CNAME, other records (in their order), then the addresses.
        assert [t for t in order if t.startswith("TXT")] == ['TXT "one"', 'TXT "two"']
        firsts.add(next(t for t in order if t.startswith("A ")))
    assert len(firsts) == 4


def test_single_address_and_no_address_answers_are_untouched() -> None:
    for upstream in (
        seam.answer(NAME, "A", addresses(1)),
        seam.answer(NAME, "TXT", [f"{NAME} 30 IN TXT a", f"{NAME} 30 IN TXT b"]),
        seam.answer(NAME, "SRV", [f"{NAME} 30 IN SRV 0 50 80 a.example.org."] * 1),
    ):
        lb = handler.LoadBalance(seam.Next(upstream))
        assert serve(lb, rdtype="A")[0] is upstream
        assert serve(lb, rdtype="A")[0] is upstream


@pytest.mark.parametrize(
    "upstream",
    [
        seam.answer(NAME, "A", addresses(3), rcode=wire.NXDOMAIN),
        wire.Answer.failure(wire.SERVFAIL, "plugin/forward: boom"),
        wire.DROP,
    ],
)
def test_errors_pass_untouched(upstream: wire.Answer) -> None:
    lb = handler.LoadBalance(seam.Next(upstream))
    assert lb.serve(seam.request(NAME)) is upstream


def test_zone_transfers_are_untouched() -> None:
    upstream = seam.answer(NAME, "AXFR", addresses(3))
    lb = handler.LoadBalance(seam.Next(upstream))
    assert lb.serve(seam.request(NAME, "AXFR")) is upstream


def test_mx_rotates_even_when_names_are_compressed_against_each_other() -> None:
    # mail2's "foo.net" is a pointer into mail1's RDATA: moving bytes would break it, so the
    # variants are rendered again from the decoded records.
    upstream = seam.answer(
        "example.org.",
        "MX",
        [f"example.org. 30 IN MX {i}0 mail{i}.foo.net." for i in range(1, 4)],
    )
    lb = handler.LoadBalance(seam.Next(upstream))
    firsts = Counter(texts(serve(lb, "example.org.", "MX")[1].answer)[0] for _ in range(6))
    assert set(firsts) == {"MX 10 mail1.foo.net.", "MX 20 mail2.foo.net.", "MX 30 mail3.foo.net."}


def test_additional_and_authority_sections_rotate_too() -> None:
    upstream = seam.answer(
        "example.org.",
        "NS",
        ["example.org. 30 IN NS ns.example.org."],
        additional=addresses(3, "ns.example.org.", "192.0."),
    )
    lb = handler.LoadBalance(seam.Next(upstream))
    firsts = {texts(serve(lb, "example.org.", "NS")[1].additional)[0] for _ in range(3)}
    assert len(firsts) == 3


def test_prefer_puts_preferred_networks_first_in_their_order() -> None:
    records = [
        *addresses(2, prefix="10.0."),
        *addresses(2, prefix="192.168."),
        *addresses(2, prefix="172.16."),
    ]
    upstream = seam.answer(NAME, "A", records)
    prefer = [ipaddress.ip_network("172.16.0.0/12"), ipaddress.ip_network("192.168.0.0/16")]
    lb = handler.LoadBalance(seam.Next(upstream), prefer=prefer)
    firsts = set()
    for _ in range(4):
        order = [t.split()[1] for t in texts(serve(lb)[1].answer)]
        assert [ip.split(".")[0] for ip in order] == ["172", "172", "192", "192", "10", "10"]
        firsts.add(order[0])
    assert firsts == {"172.16.0.1", "172.16.0.2"}  # still rotating within a network


def test_truncated_udp_replies_carry_a_rotating_subset() -> None:
    upstream = seam.answer(NAME, "A", addresses(150, prefix="10.1."))
    lb = handler.LoadBalance(seam.Next(upstream))
    seen_first = set()
    seen_any: set[str] = set()
    for _ in range(20):
        _, reply = serve(lb)  # UDP without EDNS: 512 bytes
        assert reply.flags & dns.flags.TC
        got = [rd.to_text() for rd in reply.answer[0]]
        assert 0 < len(got) < 150
        seen_first.add(got[0])
        seen_any.update(got)
    assert len(seen_first) > 10
    assert len(seen_any) > 100
    _, tcp = serve(lb, proto="tcp")
    assert len(tcp.answer[0]) == 150


def test_variants_are_bounded_and_memoized() -> None:
    upstream = seam.answer(NAME, "A", addresses(100, prefix="10.2."))
    lb = handler.LoadBalance(seam.Next(upstream))
    answers = [serve(lb)[0] for _ in range(2 * plan.MAX_VARIANTS)]
    assert len({id(a) for a in answers}) == plan.MAX_VARIANTS
    assert answers[0] is answers[plan.MAX_VARIANTS]


def test_memo_forgets_the_oldest_answers() -> None:
    answers = [seam.answer(NAME, "A", addresses(2, prefix=f"10.{i}.")) for i in range(5)]
    it = iter(answers * 2)
    lb = handler.LoadBalance(seam.Next(lambda req: next(it)), memo_size=3)
    for _ in range(5):
        serve(lb)
    assert len(lb._memo) == 3
    assert {id(entry[0]) for entry in lb._memo.values()} == {id(a) for a in answers[2:]}


def test_memo_stays_within_its_byte_budget() -> None:
    # Each 20-record answer may build 20 variants of its body: about 20 * 320 bytes charged.
    answers = [seam.answer(NAME, "A", addresses(20, prefix=f"10.{i}.")) for i in range(10)]
    it = iter(answers)
    lb = handler.LoadBalance(seam.Next(lambda req: next(it)), memo_bytes=20_000)
    for _ in range(10):
        serve(lb)
    assert 1 <= len(lb._memo) <= 3
    assert lb._charged <= 20_000


async def test_answers_that_arrive_later_are_balanced() -> None:
    upstream = seam.answer(NAME, "A", addresses(3))
    lb = handler.LoadBalance(seam.Next(lambda req: seam.later(upstream)))
    firsts = set()
    for _ in range(3):
        req = seam.request(NAME)
        answer = await plugin.resolve(lb.serve(req))
        firsts.add(seam.reply(req, answer).answer[0][0].to_text())
    assert len(firsts) == 3


def test_unreadable_body_is_passed_as_is() -> None:
    bad = wire.Answer(rcode=wire.NOERROR, body=b"\x00\x00", counts=(2, 0, 0), flags=wire.QR << 8)
    lb = handler.LoadBalance(seam.Next(bad))
    assert lb.serve(seam.request(NAME)) is bad

"""hosts answers as CoreDNS's: forward and reverse, inline entries, NODATA vs SERVFAIL,
fallthrough, and reloads of a changed file."""

from __future__ import annotations

import os
from pathlib import Path

import dns.flags
import pytest

from kdns import config, wire
from kdns.plugins.hosts import handler as hosts_handler
from kdns.plugins.hosts import source as source_
from tests.support import seam

HOSTS = """\
# The following lines are desirable for IPv4 capable hosts
127.0.0.1       localhost
192.0.2.10      web.example.org   www.example.org  # aliases too
192.0.2.11      web.example.org
2001:db8::10    web.example.org
fe80::1%eth0    link.example.org
::ffff:192.0.2.20 mapped.example.org
10.9.9.9        other.example.net
not-an-address  broken.example.org
192.0.2.30
"""

NEXT = seam.answer("x.", "A", ["x. 1 IN TXT next"])


def load(
    tmp_path: Path, body: str = "", *, hosts: str = HOSTS, keys: str = "example.org"
) -> tuple[config.Loaded, seam.Next]:
    (tmp_path / "hosts").write_text(hosts)
    text = f"{keys} {{\n    hosts hosts {body}\n    whoami\n}}\n"
    loaded = seam.load(text, filename=str(tmp_path / "Corefile"))
    hosts_plugin = seam.chain_handler(loaded, "hosts")
    nxt = seam.Next(NEXT)
    hosts_plugin.next = nxt
    return loaded, nxt


def ask(loaded: config.Loaded, name: str, rdtype: str = "A") -> wire.Answer:
    answer = seam.chain_handler(loaded, "hosts").serve(seam.request(name, rdtype))
    assert isinstance(answer, wire.Answer)
    return answer


def records(answer: wire.Answer, name: str, rdtype: str = "A") -> list[str]:
    reply = seam.reply(seam.request(name, rdtype), answer)
    return [rd.to_text() for rrset in reply.answer for rd in rrset]


def test_a_and_aaaa_answers_are_authoritative_with_ttl_3600(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path)
    reply = seam.reply(seam.request("WEB.example.org."), ask(loaded, "WEB.example.org."))
    assert reply.flags & dns.flags.AA
    assert reply.answer[0].name.to_text() == "WEB.example.org."
    assert reply.answer[0].ttl == 3600
    assert records(ask(loaded, "web.example.org."), "web.example.org.") == [
        "192.0.2.10",
        "192.0.2.11",
    ]
    aaaa = ask(loaded, "web.example.org.", "AAAA")
    assert records(aaaa, "web.example.org.", "AAAA") == ["2001:db8::10"]
    assert records(ask(loaded, "www.example.org."), "www.example.org.") == ["192.0.2.10"]
    assert nxt.calls == 0


def test_zoned_ipv6_and_mapped_ipv4_addresses(tmp_path: Path) -> None:
    loaded, _ = load(tmp_path)
    link = ask(loaded, "link.example.org.", "AAAA")
    assert records(link, "link.example.org.", "AAAA") == ["fe80::1"]
    mapped = ask(loaded, "mapped.example.org.")
    assert records(mapped, "mapped.example.org.") == ["192.0.2.20"]


def test_existing_name_other_type_is_empty_noerror_without_soa(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path)
    for name, rdtype in (("mapped.example.org.", "AAAA"), ("web.example.org.", "MX")):
        reply = seam.reply(seam.request(name, rdtype), ask(loaded, name, rdtype))
        assert reply.rcode() == wire.NOERROR
        assert reply.flags & dns.flags.AA
        assert not reply.answer and not reply.authority
    assert nxt.calls == 0


def test_unknown_name_in_zone_is_servfail_without_fallthrough(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path)
    answer = ask(loaded, "nope.example.org.")
    assert answer.body is None and answer.rcode == wire.SERVFAIL  # the server writes it
    assert ask(loaded, "broken.example.org.").rcode == wire.SERVFAIL
    assert nxt.calls == 0


def test_names_outside_the_zones_go_next_and_are_not_loaded(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path)
    assert ask(loaded, "other.example.net.") is NEXT
    assert ask(loaded, "localhost.") is NEXT
    assert nxt.calls == 2


def test_fallthrough_passes_unknown_names_on(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path, "{\n        fallthrough\n    }")
    assert ask(loaded, "nope.example.org.") is NEXT
    assert nxt.calls == 1
    # A name that exists is still answered, never passed on.
    assert ask(loaded, "web.example.org.", "TXT").body == b""


def test_fallthrough_limited_to_zones(tmp_path: Path) -> None:
    loaded, _ = load(tmp_path, "{\n        fallthrough sub.example.org\n    }")
    assert ask(loaded, "a.sub.example.org.") is NEXT
    assert ask(loaded, "nope.example.org.").rcode == wire.SERVFAIL


def test_reverse_lookups(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path)
    v4 = "10.2.0.192.in-addr.arpa."
    reply = seam.reply(seam.request(v4, "PTR"), ask(loaded, v4, "PTR"))
    assert [r.to_text() for r in reply.answer[0]] == ["web.example.org.", "www.example.org."]
    assert reply.flags & dns.flags.AA
    v6 = "0.1." + "0." * 22 + "8.b.d.0.1.0.0.2.ip6.arpa."
    assert records(ask(loaded, v6, "PTR"), v6, "PTR") == ["web.example.org."]
    mapped = "20.2.0.192.in-addr.arpa."
    assert records(ask(loaded, mapped, "PTR"), mapped, "PTR") == ["mapped.example.org."]
    # Addresses without an entry always pass on, fallthrough or not (CoreDNS).
    assert ask(loaded, "1.0.0.127.in-addr.arpa.", "PTR") is NEXT
    assert ask(loaded, "9.9.9.10.in-addr.arpa.", "PTR") is NEXT
    assert nxt.calls == 2


def test_no_reverse(tmp_path: Path) -> None:
    loaded, nxt = load(tmp_path, "{\n        no_reverse\n    }")
    assert ask(loaded, "10.2.0.192.in-addr.arpa.", "PTR") is NEXT
    assert nxt.calls == 1


def test_ttl_option(tmp_path: Path) -> None:
    loaded, _ = load(tmp_path, "{\n        ttl 60\n    }")
    reply = seam.reply(seam.request("web.example.org."), ask(loaded, "web.example.org."))
    assert reply.answer[0].ttl == 60


def test_inline_entries_add_to_the_file(tmp_path: Path) -> None:
    loaded, _ = load(
        tmp_path,
        "{\n        192.0.2.12 web.example.org\n        192.0.2.99 inline.example.org\n    }",
    )
    web = records(ask(loaded, "web.example.org."), "web.example.org.")
    assert web == ["192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert records(ask(loaded, "inline.example.org."), "inline.example.org.") == ["192.0.2.99"]
    ptr = "99.2.0.192.in-addr.arpa."
    assert records(ask(loaded, ptr, "PTR"), ptr, "PTR") == ["inline.example.org."]


def test_many_addresses_are_one_rrset(tmp_path: Path) -> None:
    lines = "".join(f"10.0.{i // 250}.{i % 250 + 1} many.example.org\n" for i in range(300))
    loaded, _ = load(tmp_path, hosts=lines)
    answer = ask(loaded, "many.example.org.")
    assert answer.ancount == 300
    req = seam.request("many.example.org.", proto="tcp")
    assert len(seam.reply(req, answer).answer[0]) == 300
    # Over UDP without EDNS the core cuts it at a record boundary, with TC.
    udp = seam.reply(req := seam.request("many.example.org."), answer)
    assert udp.flags & dns.flags.TC and 0 < len(udp.answer[0]) < 300


async def test_reload_picks_up_a_changed_file(tmp_path: Path) -> None:
    loaded, _ = load(tmp_path, "{\n        reload 20ms\n    }")
    for hook in loaded.hooks.startup:
        await hook()
    try:
        assert ask(loaded, "new.example.org.").rcode == wire.SERVFAIL
        path = tmp_path / "hosts"
        path.write_text(HOSTS + "192.0.2.50 new.example.org\n")
        for _ in range(200):
            if ask(loaded, "new.example.org.").body is not None:
                break
            await _sleep(0.01)
        assert records(ask(loaded, "new.example.org."), "new.example.org.") == ["192.0.2.50"]
        src = loaded.hooks.shared["hosts.sources"][0]
        assert src.reload_timestamp == os.stat(path).st_mtime
        # Deleted: the last entries stay in service, as in CoreDNS.
        path.unlink()
        await _sleep(0.1)
        assert ask(loaded, "new.example.org.").body is not None
    finally:
        for hook in loaded.hooks.cleanup:
            await hook()


async def test_unchanged_file_is_not_reread(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text(HOSTS)
    src = source_.Source(
        path=tmp_path / "hosts", inline=[], zones=frozenset({b"\x00"}), reverse=True, ttl=1
    )
    assert src.load()
    watcher = source_.Watcher(src, 1.0)
    assert not await watcher.check()
    os.utime(tmp_path / "hosts", ns=(1, 1))
    assert await watcher.check()
    assert src.entries > 0
    assert source_.ENTRIES.values[()] == src.entries  # coredns_hosts_entries
    assert source_.RELOAD_TIMESTAMP.values[()] == 1e-9


def test_reload_zero_starts_no_watcher(tmp_path: Path) -> None:
    loaded, _ = load(tmp_path, "{\n        reload 0\n    }")
    assert loaded.hooks.startup == []


def test_handler_without_setup() -> None:
    from kdns.plugins.hosts import hostsfile, table

    entries = hostsfile.parse(["192.0.2.1 a.test"], zones=frozenset({b"\x00"}))
    h = hosts_handler.Hosts(seam.Next(NEXT), table.Table([entries], ttl=5), zones=frozenset())
    assert h.serve(seam.request("a.test.")).ancount == 1  # type: ignore[union-attr]
    assert h.serve(seam.request("b.test.")) is NEXT  # in no zone


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest.fixture(autouse=True)
def _quiet_hosts_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="kdns.plugin.hosts")

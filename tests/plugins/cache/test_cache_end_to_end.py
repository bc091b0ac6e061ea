"""A real kdns with ``cache`` in front of ``hosts``: cached answers outlive a changed file."""

from __future__ import annotations

import time
from pathlib import Path

import dns.flags
import dns.rcode

from tests.support import clients

COREFILE = """\
example.org {
    cache 30
    hosts hosts {
        reload 50ms
    }
}
"""


def test_cache_serves_counted_down_answers_while_the_source_changes() -> None:
    files = {"hosts": "192.0.2.10 web.example.org\n192.0.2.11 other.example.org\n"}
    with clients.serve(COREFILE, files=files) as server:
        first = server.query("web.example.org.", "A")
        assert first.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rd in first.answer[0]] == ["192.0.2.10"]
        assert first.answer[0].ttl == 30  # hosts says 3600; the cache caps it

        # hosts re-reads the changed file within 50 ms; the cache keeps what it holds.
        hosts = Path(server.proc.args[1]).parent / "hosts"  # next to the Corefile (-conf)
        hosts.write_text("192.0.2.99 web.example.org\n192.0.2.98 other.example.org\n")
        time.sleep(1.2)
        cached = server.query("web.example.org.", "A", tcp=True)
        assert [rd.to_text() for rd in cached.answer[0]] == ["192.0.2.10"]
        assert 25 <= cached.answer[0].ttl <= 29
        assert cached.flags & dns.flags.AA  # the flags of the stored reply

        fresh = server.query("other.example.org.", "A")
        assert [rd.to_text() for rd in fresh.answer[0]] == ["192.0.2.98"]

        # Names hosts does not know are SERVFAIL, which the server writes and nothing caches.
        assert server.query("nope.example.org.", "A").rcode() == dns.rcode.SERVFAIL
        # With EDNS and DO the reply carries the client's own OPT.
        do = server.query("web.example.org.", "A", use_edns=0)
        assert do.edns == 0

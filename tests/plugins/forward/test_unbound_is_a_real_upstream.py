"""forward in front of a real resolver: Debian's unbound, started by the test on a high port.

tests/run.sh installs unbound. Its static local zone answers A, AAAA, MX and TXT, and
NXDOMAIN with its SOA; kdns must pass each through unchanged (and a cache in front keeps
the negative answer no longer than the SOA says).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.support import clients, kdnsproc

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def unbound_conf(workdir: Path, port: int) -> Path:
    lines = [
        "server:",
        f"  interface: 127.0.0.1@{port}",
        f"  port: {port}",
        "  do-daemonize: no",
        '  chroot: ""',
        '  username: ""',
        f'  directory: "{workdir}"',
        '  pidfile: ""',
        "  use-syslog: no",
        "  do-ip6: no",
        '  module-config: "iterator"',
        "  access-control: 127.0.0.0/8 allow",
        '  local-zone: "upstream.test." static',
        '  local-data: "upstream.test. 60 IN SOA ns.upstream.test. host.upstream.test. 1 3600 600 86400 2"',
        '  local-data: "www.upstream.test. 300 IN A 192.0.2.80"',
        '  local-data: "www.upstream.test. 300 IN AAAA 2001:db8::80"',
        '  local-data: "upstream.test. 300 IN MX 10 mail.upstream.test."',
        "  local-data: 'upstream.test. 300 IN TXT \"v=spf1 -all\"'",
        "remote-control:",
        "  control-enable: no",
        "",
    ]
    path = workdir / "unbound.conf"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def unbound(tmp_path: Path) -> int:
    assert Path(UNBOUND).exists(), "unbound is missing: run the tests with tests/run.sh"
    port = kdnsproc.free_port()
    proc = subprocess.Popen(
        [UNBOUND, "-d", "-c", str(unbound_conf(tmp_path, port))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    q = dns.message.make_query("www.upstream.test.", "A")
    deadline = time.monotonic() + 10
    while True:
        try:
            dns.query.udp(q, "127.0.0.1", port=port, timeout=0.3)
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(f"unbound did not start: {proc.communicate()[0]!r}") from None
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(10)


def answers(srv: kdnsproc.Server, name: str, rdtype: str, **kw: object) -> tuple[str, list[str]]:
    r = srv.query(name, rdtype, **kw)  # type: ignore[arg-type]
    return dns.rcode.to_text(r.rcode()), sorted(rr.to_text() for rrs in r.answer for rr in rrs)


def test_forwarded_types_and_negative_answers(unbound: int) -> None:
    corefile = f".:{{port}} {{\n    bind 127.0.0.1\n    cache 30 {{\n        denial 9984 30 0\n    }}\n    forward . 127.0.0.1:{unbound}\n}}\n"
    with clients.serve(corefile) as srv:
        assert answers(srv, "www.upstream.test.", "A") == ("NOERROR", ["192.0.2.80"])
        assert answers(srv, "www.upstream.test.", "AAAA", tcp=True) == ("NOERROR", ["2001:db8::80"])
        assert answers(srv, "upstream.test.", "MX") == ("NOERROR", ["10 mail.upstream.test."])
        assert answers(srv, "upstream.test.", "TXT") == ("NOERROR", ['"v=spf1 -all"'])
        nx = srv.query("missing.upstream.test.", "A")
        assert nx.rcode() == dns.rcode.NXDOMAIN
        # RFC 2308: the negative TTL is min(SOA TTL 60, MINIMUM 2); MINTTL 0 lets it through.
        assert nx.authority and nx.authority[0].ttl <= 2

"""``forward . /etc/resolv.conf``: every ``nameserver`` of the file becomes an upstream on port 53.

resolv.conf(5) has no syntax for a port and CoreDNS (miekg/dns) uses 53 for all of them, so the
end-to-end test needs a fake upstream on port 53 of a spare loopback address: it runs as root
only, and is skipped otherwise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kdns import config, corefile
from kdns.errors import CorefileError
from kdns.pkg import resolvconf
from tests.support import children
from tests.support.upstream import FakeUpstream

#: A loopback address nothing else uses, so port 53 on it is free even on a host running a
#: resolver on 127.0.0.1 or 127.0.0.53.
ADDRESS = "127.53.0.1"


def test_nameservers_in_file_order_with_comments_ignored() -> None:
    conf = resolvconf.parse(
        "# written by kubelet\n"
        "nameserver 10.96.0.10\n"
        "nameserver 2001:db8::53 # trailing comment\n"
        "; old-style comment\n"
        "nameserver fe80::1%eth0\n"
        "search default.svc.cluster.local svc.cluster.local cluster.local\n"
        "options ndots:5 timeout:1\n"
    )
    assert conf.nameservers == ("10.96.0.10", "2001:db8::53", "fe80::1%eth0")
    assert conf.search == ("default.svc.cluster.local", "svc.cluster.local", "cluster.local")
    assert conf.options == ("ndots:5", "timeout:1")


def test_the_last_search_or_domain_line_wins() -> None:
    assert resolvconf.parse("search a.example\ndomain b.example\n").search == ("b.example",)


def test_a_nameserver_that_is_not_an_address_is_an_error() -> None:
    with pytest.raises(resolvconf.ResolvConfError, match=r"'dns\.example' is not an IP address"):
        resolvconf.parse("nameserver dns.example\n")


def test_an_empty_file_gives_a_setup_error(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("search example\n")
    with pytest.raises(CorefileError, match=re.escape(f"no nameservers found in {path}")):
        config.load(corefile.parse(f". {{\n forward . {path}\n}}\n"))


@pytest.fixture
def port53() -> Iterator[FakeUpstream]:
    if os.geteuid() != 0:
        pytest.skip("binding port 53 needs root; the parser is covered above")
    up = FakeUpstream(host=ADDRESS, port=53)
    try:
        up.start()
    except OSError as err:
        pytest.skip(f"port 53 on {ADDRESS} is not free: {err}")
    try:
        yield up
    finally:
        up.close()


def test_forwarding_to_the_nameservers_of_a_file(port53: FakeUpstream) -> None:
    corefile = ".:{port} {\n    forward . resolv.conf\n}\n"
    files = {"resolv.conf": f"search cluster.local\nnameserver {ADDRESS}\n"}
    with children.serve(corefile, files=files) as srv:
        reply = children.query(srv.port, "via-resolv-conf.example", "A")
    assert children.addresses(reply) == ["192.0.2.1"]
    assert port53.names() == ["via-resolv-conf.example."]

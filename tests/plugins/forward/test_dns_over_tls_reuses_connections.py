"""``tls://`` upstreams: DNS over TLS (RFC 7858) with the certificate checked against ``tls CA``
and ``tls_servername``, one connection reused for query after query until it has been idle for
``expire``. The upstream is a local TLS server with a certificate made for the test."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import children, tls
from tests.support.upstream import FakeUpstream

SERVER_NAME = "dns.test"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, and a server certificate it signed for ``dns.test`` and 127.0.0.1."""
    bundle = tls.make_bundle(tmp_path_factory.mktemp("tls"), server_names=(SERVER_NAME,))
    return {"ca": bundle.ca, "cert": bundle.server_cert, "key": bundle.server_key}


@pytest.fixture
def upstream(certs: dict[str, Path]) -> Iterator[FakeUpstream]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["cert"], certs["key"])
    with FakeUpstream(tls=context, plain=False) as up:
        yield up


def corefile(up: FakeUpstream, ca: Path, *options: str) -> str:
    lines = "\n".join(f"        {o}" for o in (f"tls {ca}", *options))
    return f".:{{port}} {{\n    errors\n    forward . tls://127.0.0.1:{up.tls_port} {{\n{lines}\n    }}\n}}\n"


def test_queries_share_one_tls_connection(upstream: FakeUpstream, certs: dict[str, Path]) -> None:
    with children.serve(corefile(upstream, certs["ca"], f"tls_servername {SERVER_NAME}")) as srv:
        for i in range(5):
            reply = children.query(srv.port, f"q{i}.example", tcp=bool(i % 2))
            assert children.addresses(reply) == ["192.0.2.1"]
    assert [q.transport for q in upstream.queries] == ["tls"] * 5
    assert upstream.connections["tls"] == 1
    assert {q.connection for q in upstream.queries} == {1}


def test_the_ip_address_is_checked_when_no_servername_is_given(
    upstream: FakeUpstream, certs: dict[str, Path]
) -> None:
    # The certificate also names 127.0.0.1, so verifying against the address works.
    with children.serve(corefile(upstream, certs["ca"])) as srv:
        assert children.addresses(children.query(srv.port, "ip.example")) == ["192.0.2.1"]


def test_a_connection_idle_past_expire_is_replaced(
    upstream: FakeUpstream, certs: dict[str, Path]
) -> None:
    options = (f"tls_servername {SERVER_NAME}", "expire 300ms")
    with children.serve(corefile(upstream, certs["ca"], *options)) as srv:
        children.query(srv.port, "a.example")
        children.query(srv.port, "b.example")
        time.sleep(0.6)
        children.query(srv.port, "c.example")
    assert [q.connection for q in upstream.queries] == [1, 1, 2]


def test_a_certificate_for_another_name_is_refused(
    upstream: FakeUpstream, certs: dict[str, Path]
) -> None:
    options = ("tls_servername other.test", "read_timeout 500ms")
    with children.serve(corefile(upstream, certs["ca"], *options)) as srv:
        reply = children.query(srv.port, "mitm.example")
        assert children.rcode(reply) == "SERVFAIL"
        line = srv.proc.wait_for_line("[ERROR] plugin/errors: 2 mitm.example. A: tls ")
    assert line.endswith(
        f"tls 127.0.0.1:{upstream.tls_port}: failed to verify certificate: "
        "Hostname mismatch, certificate is not valid for 'other.test'."
    ), line
    assert upstream.count == 0

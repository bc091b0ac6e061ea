"""``tls://`` upstreams: DNS over TLS (RFC 7858) with the certificate checked against ``tls CA``
and ``tls_servername``, one connection reused for query after query until it has been idle for
``expire``. The upstream is a local TLS server with a certificate made for the test."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.upstream import FakeUpstream
from tests.plugins.forward import support

SERVER_NAME = "dns.test"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, and a server certificate it signed for ``dns.test`` and 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("kdns test CA"))
        .issuer_name(_name("kdns test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVER_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": tmp / "ca.pem", "cert": tmp / "cert.pem", "key": tmp / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


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
    with support.serve(corefile(upstream, certs["ca"], f"tls_servername {SERVER_NAME}")) as srv:
        for i in range(5):
            reply = support.query(srv.port, f"q{i}.example", tcp=bool(i % 2))
            assert support.addresses(reply) == ["192.0.2.1"]
    assert [q.transport for q in upstream.queries] == ["tls"] * 5
    assert upstream.connections["tls"] == 1
    assert {q.connection for q in upstream.queries} == {1}


def test_the_ip_address_is_checked_when_no_servername_is_given(
    upstream: FakeUpstream, certs: dict[str, Path]
) -> None:
    # The certificate also names 127.0.0.1, so verifying against the address works.
    with support.serve(corefile(upstream, certs["ca"])) as srv:
        assert support.addresses(support.query(srv.port, "ip.example")) == ["192.0.2.1"]


def test_a_connection_idle_past_expire_is_replaced(
    upstream: FakeUpstream, certs: dict[str, Path]
) -> None:
    options = (f"tls_servername {SERVER_NAME}", "expire 300ms")
    with support.serve(corefile(upstream, certs["ca"], *options)) as srv:
        support.query(srv.port, "a.example")
        support.query(srv.port, "b.example")
        time.sleep(0.6)
        support.query(srv.port, "c.example")
    assert [q.connection for q in upstream.queries] == [1, 1, 2]


def test_a_certificate_for_another_name_is_refused(
    upstream: FakeUpstream, certs: dict[str, Path]
) -> None:
    options = ("tls_servername other.test", "read_timeout 500ms")
    with support.serve(corefile(upstream, certs["ca"], *options)) as srv:
        reply = support.query(srv.port, "mitm.example")
        assert support.rcode(reply) == "SERVFAIL"
        line = srv.proc.wait_for_line("[ERROR] plugin/errors: 2 mitm.example. A: tls ")
    assert line.endswith(
        f"tls 127.0.0.1:{upstream.tls_port}: failed to verify certificate: "
        "Hostname mismatch, certificate is not valid for 'other.test'."
    ), line
    assert upstream.count == 0

"""Issue 9 item 5: names with arbitrary bytes in their labels (a dot, a backslash, ``$``, a space,
0x00, 0xff, upper case) get replies that dnspython parses and that echo the question byte for
byte, from every plugin that answers and on the NXDOMAIN, NODATA and REFUSED paths.

Before the fix, a rendered reply rebuilt its question from the name's text through
``dnslib.DNSLabel``, which does not read RFC 1035 escapes: for ``no$pe.cluster.local`` the rendered
question was a byte longer than the client's, so the SOA owner's compression pointer landed
inside a label (dnspython: BadLabelType).

One kdns serves records, hosts, whoami, chaos, kubernetes (with autopath, against the fake API
server), and cache + forward against a loopback fake upstream; hypothesis draws the names.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import apiserver as fa
from tests.support import clients, kdnsproc
from tests.support import upstream as fu

RECORDS = """\
zone: records.test
records:
  "@": {NS: ns.records.test}
  www: {A: [10.0.0.1, 10.0.0.2], AAAA: "2001:db8::1", TXT: hello}
  "*.wild": {A: 10.0.0.3}
  alias: {CNAME: www.records.test}
  _http._tcp: {SRV: 10 5 80 www.records.test}
"""
HOSTS = "10.0.1.1 a.hosts.test\n"
COREFILE = """\
records.test {{
    records records.yaml
}}
hosts.test {{
    hosts hosts.hosts {{
        fallthrough
    }}
    records records.yaml
}}
whoami.test {{
    whoami
}}
bind {{
    chaos kdns-test
}}
fwd.test {{
    cache 30
    forward . 127.0.0.1:{upstream}
}}
cluster.local in-addr.arpa {{
    autopath @kubernetes
    kubernetes cluster.local in-addr.arpa {{
        kubeconfig {kubeconfig}
        pods verified
    }}
    forward . 127.0.0.1:{upstream}
}}
"""

#: Where the drawn labels go: in front of names that exist, of zone apexes, of names that do not,
#: and outside every block (REFUSED). ``bind.`` is asked in class CH.
SUFFIXES = (
    "www.records.test.",
    "records.test.",
    "wild.records.test.",
    "_tcp.records.test.",
    "hosts.test.",
    "a.hosts.test.",
    "whoami.test.",
    "bind.",
    "fwd.test.",
    "cluster.local.",
    "svc.cluster.local.",
    "default.svc.cluster.local.",
    "web.default.svc.cluster.local.",
    "_tcp.web.default.svc.cluster.local.",
    "headless.default.svc.cluster.local.",
    "pod.cluster.local.",
    "default.pod.cluster.local.",
    "10.in-addr.arpa.",
    "in-addr.arpa.",
    "nowhere.invalid.",
)
TYPES = ("A", "AAAA", "TXT", "SRV", "PTR", "NS", "SOA", "MX", "CNAME", "HTTPS", "ANY")
SPECIAL = b'.\\$ "();@\x00\xff\x7fAZaz09-_*'


def objects() -> list[fa.Obj]:
    return [
        fa.namespace("default"),
        fa.service("web", "default", cluster_ips=["10.96.0.80"]),
        fa.endpoint_slice(
            "web-1", "default", service="web", endpoints=[fa.endpoint("10.244.0.8", hostname="w0")]
        ),
        fa.service("headless", "default", cluster_ips=["None"]),
        fa.endpoint_slice(
            "headless-1",
            "default",
            service="headless",
            endpoints=[fa.endpoint("10.244.0.9", hostname="h0")],
        ),
        fa.pod("client", "default", ip="127.0.0.1"),
    ]


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fake API server, in an event loop of its own thread for the module's lifetime."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> fa.FakeAPIServer:
        api = fa.FakeAPIServer()
        for obj in objects():
            api.create(obj)
        await api.start()
        return api

    api = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield api.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture(scope="module")
def server(kubeconfig: Path) -> Iterator[kdnsproc.Server]:
    with fu.FakeUpstream() as upstream:
        corefile = COREFILE.format(upstream=upstream.port, kubeconfig=kubeconfig)
        files = {"records.yaml": RECORDS, "hosts.hosts": HOSTS}
        with clients.serve(corefile, files=files) as srv:
            wait_synced(srv)
            yield srv


def wait_synced(server: kdnsproc.Server) -> None:
    query = clients.make_query("web.default.svc.cluster.local.", "A")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        reply = clients.udp_exchange(query.to_wire(), server.port)
        if reply is not None and dns.message.from_wire(reply).rcode() == dns.rcode.NOERROR:
            return
        time.sleep(0.1)
    pytest.fail("the kubernetes plugin did not sync with the fake API server")


def mixed_case(data: bytes, flips: list[bool]) -> bytes:
    return bytes(
        b ^ 0x20 if flip and (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A) else b
        for b, flip in zip(data, flips + [False] * len(data), strict=False)
    )


labels = st.lists(
    st.lists(st.sampled_from(SPECIAL) | st.integers(0, 255), min_size=1, max_size=10).map(bytes),
    max_size=3,
)


@st.composite
def questions(draw: st.DrawFn) -> tuple[dns.name.Name, str, str]:
    prefix = draw(labels)
    suffix = draw(st.sampled_from(SUFFIXES))
    tail = [
        mixed_case(label.encode(), draw(st.lists(st.booleans(), max_size=len(label))))
        for label in suffix.rstrip(".").split(".")
    ]
    name = dns.name.Name([*prefix, *tail, b""])
    rdclass = "CH" if suffix == "bind." and draw(st.booleans()) else "IN"
    return name, draw(st.sampled_from(TYPES)), rdclass


def echoes(server: kdnsproc.Server, message: dns.message.Message, proto: str) -> None:
    data = message.to_wire()
    reply = clients.exchange(data, server.port, proto=proto)
    assert reply is not None, f"no {proto} reply to {message.question[0]}"
    parsed = dns.message.from_wire(reply)  # strict: BadLabelType, trailing junk... raise
    end = len(data) - (11 if message.edns >= 0 else 0)
    assert reply[:2] == data[:2]
    assert reply[4:6] == b"\x00\x01"
    assert reply[12:end] == data[12:end], "the question comes back byte for byte"
    assert parsed.question[0].name == message.question[0].name


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(question=questions(), edns=st.booleans(), tcp=st.booleans())
def test_every_reply_parses_and_echoes_the_question(
    server: kdnsproc.Server, question: tuple[dns.name.Name, str, str], edns: bool, tcp: bool
) -> None:
    name, rdtype, rdclass = question
    message = dns.message.make_query(name, rdtype, rdclass, use_edns=0 if edns else False)
    echoes(server, message, "tcp" if tcp else "udp")


@pytest.mark.parametrize(
    "labels",
    [
        [b"no$pe", b"cluster", b"local"],
        [b"no\xf6pe", b"cluster", b"local"],
        [b"a.b", b"cluster", b"local"],
        [b"a\\b", b"cluster", b"local"],
        [b"web", b"x$"],
        [b"NO$PE", b"Default", b"SVC", b"cluster", b"local"],
    ],
    ids=["dollar", "byte-246", "dot", "backslash", "web.x$", "upper"],
)
def test_the_reported_names_get_a_well_formed_reply(
    server: kdnsproc.Server, labels: list[bytes]
) -> None:
    message = dns.message.make_query(dns.name.Name([*labels, b""]), "A")
    echoes(server, message, "udp")


def test_the_fixture_answers_what_it_should(server: kdnsproc.Server) -> None:
    """The examples above reach answering plugins, not only error paths."""
    expected = {
        ("www.records.test.", "IN"): dns.rcode.NOERROR,
        ("a.hosts.test.", "IN"): dns.rcode.NOERROR,
        ("x.whoami.test.", "IN"): dns.rcode.NOERROR,
        ("version.bind.", "CH"): dns.rcode.NOERROR,
        ("x.fwd.test.", "IN"): dns.rcode.NOERROR,
        ("web.default.svc.cluster.local.", "IN"): dns.rcode.NOERROR,
        ("no$pe.cluster.local.", "IN"): dns.rcode.NXDOMAIN,
        ("x.nowhere.invalid.", "IN"): dns.rcode.REFUSED,
    }
    for (text, rdclass), rcode in expected.items():
        rdtype = "TXT" if rdclass == "CH" else "A"
        message = dns.message.make_query(text, rdtype, rdclass)
        reply = clients.udp_exchange(message.to_wire(), server.port)
        assert reply is not None
        parsed = dns.message.from_wire(reply)
        assert parsed.rcode() == rcode, text
        if rcode == dns.rcode.NOERROR:
            assert parsed.answer or parsed.additional, text

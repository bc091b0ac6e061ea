"""The log and errors plugins print CoreDNS's lines, so existing log pipelines keep parsing them.

CoreDNS's common log format is ``{remote}:{port} - {>id} "{type} {class} {name} {proto} {size}
{>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}`` (plugin/log, plugin/pkg/replacer), where
``{name}`` is the lower-cased question name (``request.Name``), ``{>bufsize}`` is
``request.Size``: the EDNS buffer (at least 512) over UDP and 65535 over TCP, and an IPv6
``{remote}`` is bracketed. errors prints ``[ERROR] plugin/errors: RCODE NAME TYPE: ERROR``.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import dns.message
import dns.rcode
import pytest

from tests.support import clients, kdnsproc, kube_e2e

COREFILE = """\
whoami.test {
    errors
    log
    whoami
}
chaos.test {
    errors
    chaos
}
"""

#: The brief's check, verbatim: the line for a plain UDP query without EDNS.
COMMON_UDP = re.compile(
    r'\[INFO\] 127\.0\.0\.1:\d+ - \d+ "A IN whoami\.test\. udp \d+ false 512" '
    r"NOERROR qr,aa,rd \d+ \d+(\.\d+)?s"
)


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        # Every listener (0.0.0.0 and ::) is open once the listener lines are out.
        srv.proc.wait_for_line(f"chaos.test.:{srv.port}")
        yield srv


def line_with(server: kdnsproc.Server, needle: str, *, after: int) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in server.proc.lines[after:]:
            if needle in line:
                return line
        time.sleep(0.01)
    raise AssertionError(f"{needle!r} not logged:\n{server.proc.output[-2000:]}")


def exchange(
    server: kdnsproc.Server,
    query: dns.message.Message,
    *,
    tcp: bool = False,
    host: str = "127.0.0.1",
) -> tuple[int, bytes, bytes]:
    """Send ``query``; the client port, the query bytes and the reply bytes."""
    data = query.to_wire()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if tcp:
        with clients.tcp_connect(server.port, host=host) as sock:
            port = sock.getsockname()[1]
            sock.sendall(clients.frame(data))
            (reply,) = clients.read_frames(sock, 1)
        return port, data, reply
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(3)
        port = sock.getsockname()[1]
        sock.sendto(data, (host, server.port))
        reply, _ = sock.recvfrom(65535)
    return port, data, reply


def test_a_udp_query_logs_the_common_format(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    query = clients.make_query("whoami.test.", "A", qid=4321)
    port, data, reply = exchange(server, query)
    line = line_with(server, f"127.0.0.1:{port} - 4321 ", after=before)
    assert COMMON_UDP.fullmatch(line), line
    expected = (
        f'[INFO] 127.0.0.1:{port} - 4321 "A IN whoami.test. udp {len(data)} false 512" '
        f"NOERROR qr,aa,rd {len(reply)} "
    )
    assert line.startswith(expected), line


def test_edns_do_and_buffer_size_are_logged(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    query = clients.make_query(
        "whoami.test.", "AAAA", qid=4322, use_edns=0, payload=1400, want_dnssec=True
    )
    port, data, reply = exchange(server, query)
    line = line_with(server, f":{port} - 4322 ", after=before)
    assert (
        f'"AAAA IN whoami.test. udp {len(data)} true 1400" NOERROR qr,aa,rd {len(reply)} ' in line
    )


def test_a_tcp_query_logs_the_tcp_size(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    query = clients.make_query("whoami.test.", "A", qid=4323)
    port, data, reply = exchange(server, query, tcp=True)
    line = line_with(server, f":{port} - 4323 ", after=before)
    # request.Size() is dns.MaxMsgSize over TCP (plugin/pkg/edns.Size).
    assert f'"A IN whoami.test. tcp {len(data)} false 65535" NOERROR qr,aa,rd {len(reply)} ' in line


def test_the_logged_name_is_lower_cased(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    port, _, reply = exchange(server, clients.make_query("WhOaMi.TeSt.", "A", qid=4324))
    assert dns.message.from_wire(reply).question[0].name.to_text() == "WhOaMi.TeSt."
    line = line_with(server, f":{port} - 4324 ", after=before)
    assert '"A IN whoami.test. udp ' in line, line


def test_an_ipv6_client_is_bracketed(server: kdnsproc.Server) -> None:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
    except OSError:
        pytest.skip("no IPv6")
    before = len(server.proc.lines)
    port, _, _ = exchange(server, clients.make_query("whoami.test.", "A", qid=4325), host="::1")
    line = line_with(server, f"[::1]:{port} - 4325 ", after=before)
    assert line.startswith(f"[INFO] [::1]:{port} - 4325 "), line


def test_errors_logs_a_chain_that_runs_out(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    reply = server.query("Host.Chaos.Test.", "A")
    assert reply.rcode() == dns.rcode.SERVFAIL
    line = line_with(server, "[ERROR] plugin/errors:", after=before)
    assert line == "[ERROR] plugin/errors: 2 host.chaos.test. A: plugin/chaos: no next plugin found"


def test_errors_stays_quiet_when_nothing_failed(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    assert server.query("whoami.test.", "A").rcode() == dns.rcode.NOERROR
    line_with(server, '"A IN whoami.test. udp', after=before)
    assert not [line for line in server.proc.lines[before:] if "[ERROR]" in line]


def test_log_only_logs_queries_of_its_block(server: kdnsproc.Server) -> None:
    before = len(server.proc.lines)
    assert server.query("quiet.chaos.test.", "TXT").rcode() == dns.rcode.SERVFAIL
    line_with(server, "quiet.chaos.test.", after=before)  # the errors line
    assert not [line for line in server.proc.lines[before:] if line.startswith("[INFO]")]


# --- a client's bad queries are not server errors --------------------------------------------

CLUSTER = """\
.:{port} {
    bind 127.0.0.1
    errors
    log
    ready 127.0.0.1:READY
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig KUBECONFIG
        fallthrough in-addr.arpa ip6.arpa
        startup_timeout STARTUP
    }
}
example.org:{port} {
    bind 127.0.0.1
    errors
    log
    records example.org.yaml
}
"""

NAMES = ("kubernetes.default.svc.cluster.local.", "cluster.local.", "www.example.org.", "x.org.")


def test_refused_answers_to_bad_queries_log_no_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """200 queries of other classes and 200 zone transfers: REFUSED, and no [ERROR] line."""
    with kube_e2e.api_server() as api:
        api.start()
        with kube_e2e.kdns(api, tmp_path_factory.mktemp("kdns"), corefile=CLUSTER) as kdns:
            kube_e2e.wait_for(lambda: kdns.ready()[0] == 200, timeout=10, interval=0.05)
            before = len(kdns.server.proc.lines)
            for i in range(200):
                rdclass = ("CH", "HS", "ANY", "NONE")[i % 4]
                query = clients.make_query(NAMES[i % len(NAMES)], "A", rdclass)
                _, _, reply = exchange(kdns.server, query)
                assert dns.message.from_wire(reply).rcode() == dns.rcode.REFUSED
            for i in range(200):
                name = ("cluster.local.", "in-addr.arpa.", "example.org.")[i % 3]
                query = clients.make_query(name, "AXFR" if i % 2 else "IXFR")
                _, _, reply = exchange(kdns.server, query, tcp=i % 4 < 2)
                assert dns.message.from_wire(reply).rcode() == dns.rcode.REFUSED
            # log still shows the refused transfers; a last query marks the end of the output.
            line_with(kdns.server, '"AXFR IN cluster.local. tcp', after=before)
            _, _, reply = exchange(kdns.server, clients.make_query("www.example.org.", "A", qid=77))
            line_with(kdns.server, '- 77 "A IN www.example.org. udp', after=before)
            errors = [line for line in kdns.server.proc.lines[before:] if "[ERROR]" in line]
            assert errors == []

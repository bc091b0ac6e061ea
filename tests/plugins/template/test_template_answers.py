"""template end to end: a real kdns answers dnspython and dig as CoreDNS's template plugin does."""

from __future__ import annotations

import shutil
import socket
import struct
import urllib.request
from collections.abc import Iterator

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kdns.plugins.template.handler import MAX_CHASE_DEPTH
from tests.support import clients, kdnsproc

COREFILE = """\
.:{port} {
    prometheus 127.0.0.1:METRICS
    template IN AAAA . {
      rcode NOERROR
    }
    template IN A example.test {
      match "^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.]example[.]test[.]$"
      answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
      authority "example.test. 60 in NS ns0.example.test."
      additional "ns0.example.test. 60 IN A 203.0.113.8"
      fallthrough
    }
    template IN MX example.test {
      match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]test[.]$
      answer "{{ .Name }} 60 IN MX 10 {{ .Name }}"
    }
    template ANY ANY invalid {
      rcode NXDOMAIN
      authority "invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)"
      ederror 21 "Blocked according to RFC2606"
    }
    template IN A hex.test {
      match "^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]hex[.]test[.]$"
      match "^(?P<broken>zz)[.]hex[.]test[.]$"
      answer "{{ .Name }} 60 IN A 10.{{ parseInt .Group.b 16 8 }}.{{ parseInt .Group.c 16 8 }}.{{ parseInt .Group.d 16 8 }}"
    }
    template IN A remote.test {
      answer "{{ .Name }} 60 IN A {{ .Remote }}"
    }
    template IN ANY cname.test {
      match "^a[.]cname[.]test[.]$"
      answer "{{ .Name }} 60 IN CNAME ip-10-9-8-7.example.test."
    }
    template IN A loop.test {
      answer "{{ .Name }} 60 IN CNAME {{ .Name }}"
    }
    template IN A refused.test {
      rcode REFUSED
      authority "refused.test. 60 IN SOA ns.refused.test. h.refused.test. (1 60 60 60 60)"
    }
    template IN A sf.test {
      rcode SERVFAIL
    }
    template IN A redos.test {
      match "^(a+)+$"
      answer "{{ .Name }} 60 IN A 192.0.2.1"
      fallthrough
    }
    template IN TXT txt.test {
      answer "{{ .Name }} 60 IN TXT \\"{{ index .Match 0 }}\\" \\"{{ .Type }}\\" \\"{{ .Zone }}\\""
    }
    whoami
}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    metrics_port = clients.second_port()
    with clients.serve(COREFILE.replace("METRICS", str(metrics_port))) as srv:
        srv.metrics_port = metrics_port  # type: ignore[attr-defined]
        yield srv


def texts(section: list) -> list[str]:
    return sorted(rr.to_text() for rrset in section for rr in rrset)


def owners(section: list) -> list[str]:
    return [f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}" for rrset in section]


def test_rcode_noerror_alone_is_nodata_for_every_aaaa(server: kdnsproc.Server) -> None:
    for name in ("nodata.test.", "a.b.nodata.test.", "ip-10-1-2-3.example.test.", "."):
        reply = server.query(name, "AAAA")
        assert reply.rcode() == dns.rcode.NOERROR
        assert (reply.answer, reply.authority) == ([], [])
        assert reply.flags & dns.flags.AA
    # Other types are not this template's: whoami answers them.
    assert server.query("nodata.test.", "A").additional


def test_named_groups_make_the_address_with_authority_and_additional(
    server: kdnsproc.Server,
) -> None:
    reply = server.query("ip-10-1-2-3.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert texts(reply.answer) == ["10.1.2.3"]
    assert reply.answer[0].ttl == 60
    assert owners(reply.answer) == ["ip-10-1-2-3.example.test. A"]
    assert texts(reply.authority) == ["ns0.example.test."]
    assert texts(reply.additional) == ["203.0.113.8"]


def test_the_question_comes_back_in_the_clients_case(server: kdnsproc.Server) -> None:
    reply = server.query("IP-10-1-2-3.Example.TEST.", "A")
    assert texts(reply.answer) == ["10.1.2.3"]
    assert str(reply.question[0].name) == "IP-10-1-2-3.Example.TEST."


def test_no_regex_match_without_fallthrough_is_servfail(server: kdnsproc.Server) -> None:
    # The MX template has no fallthrough: a name of its zone no regex matches gets SERVFAIL.
    reply = server.query("other.example.test.", "MX")
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert server.query("ip-10-4-5-6.example.test.", "MX").rcode() == dns.rcode.NOERROR


def test_no_regex_match_with_fallthrough_goes_to_the_next_plugin(server: kdnsproc.Server) -> None:
    reply = server.query("other.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []
    assert owners(reply.additional)[0] == "other.example.test. A"  # whoami's


def test_nxdomain_with_a_soa_and_an_extended_error(server: kdnsproc.Server) -> None:
    reply = server.query("foo.invalid.", "MX", use_edns=0)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.answer == []
    assert owners(reply.authority) == ["invalid. SOA"]
    assert reply.authority[0].ttl == 60
    ede = [o for o in reply.options if o.otype == dns.edns.EDE]
    assert len(ede) == 1
    assert (ede[0].code, ede[0].text) == (21, "Blocked according to RFC2606")
    # Without EDNS the reply has no OPT record at all.
    plain = server.query("foo.invalid.", "MX")
    assert plain.rcode() == dns.rcode.NXDOMAIN and plain.edns < 0


def test_template_any_any_answers_chaos_class_queries_too(server: kdnsproc.Server) -> None:
    reply = server.query("foo.invalid.", "TXT", rdclass="CH")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.to_text().split()[2] for rrset in reply.authority] == ["CH"]


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed")
def test_dig_shows_the_extended_error(server: kdnsproc.Server) -> None:
    out = clients.run_dig("dig", server.port, "foo.invalid", "+ednsopt=15", "+tries=1")
    assert "status: NXDOMAIN" in out.stdout, out.stdout
    assert "EDE: 21" in out.stdout and "Blocked according to RFC2606" in out.stdout, out.stdout


def test_parse_int_reads_hexadecimal_groups(server: kdnsproc.Server) -> None:
    assert texts(server.query("ip0a5f0c09.hex.test.", "A").answer) == ["10.95.12.9"]


def test_a_template_that_fails_on_a_query_is_servfail_and_counted(
    server: kdnsproc.Server,
) -> None:
    # The second regex matches but has no group b: parseInt of "<no value>" fails.
    assert server.query("zz.hex.test.", "A").rcode() == dns.rcode.SERVFAIL
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    failures = [
        line
        for line in text.splitlines()
        if line.startswith("coredns_template_template_failures_total{")
    ]
    assert failures and 'section="answer"' in failures[0] and 'zone="hex.test."' in failures[0]
    assert 'template="{{ .Name }} 60 IN A 10.{{ parseInt' in failures[0]
    assert any(
        line.startswith("coredns_template_matches_total{") and 'zone="example.test."' in line
        for line in text.splitlines()
    ), text


def test_remote_is_the_client_address(server: kdnsproc.Server) -> None:
    assert texts(server.query("x.remote.test.", "A").answer) == ["127.0.0.1"]


def test_a_cname_target_is_resolved_through_the_server(server: kdnsproc.Server) -> None:
    reply = server.query("a.cname.test.", "A")
    assert owners(reply.answer) == ["a.cname.test. CNAME", "ip-10-9-8-7.example.test. A"]
    assert texts(reply.answer) == ["10.9.8.7", "ip-10-9-8-7.example.test."]
    # Asked for the CNAME itself, nothing is chased.
    only = server.query("a.cname.test.", "CNAME")
    assert owners(only.answer) == ["a.cname.test. CNAME"]


def test_a_cname_to_itself_is_followed_a_bounded_number_of_times(
    server: kdnsproc.Server,
) -> None:
    query = clients.make_query("x.loop.test.", "A")
    reply = clients.tcp_exchange(query.to_wire(), server.port)
    ancount = struct.unpack_from("!H", reply, 6)[0]
    # The query's own CNAME, then one per re-entry of the chain, up to MAX_CHASE_DEPTH.
    assert ancount == 1 + MAX_CHASE_DEPTH


def test_refused_is_sent_once_with_the_templates_records(server: kdnsproc.Server) -> None:
    query = clients.make_query("x.refused.test.", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(query.to_wire(), ("127.0.0.1", server.port))
        first = dns.message.from_wire(sock.recv(65535))
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(65535)
    assert first.rcode() == dns.rcode.REFUSED
    assert owners(first.authority) == ["refused.test. SOA"]


def test_rcode_servfail_answers_bare_servfail(server: kdnsproc.Server) -> None:
    reply = server.query("x.sf.test.", "A")
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert (reply.answer, reply.authority) == ([], [])


def test_template_data_match_type_and_zone(server: kdnsproc.Server) -> None:
    reply = server.query("Some.TXT.test.", "TXT")
    assert texts(reply.answer) == ['"some.txt.test." "TXT" "txt.test."']


def test_a_reply_built_from_remote_is_never_replayed_to_another_client(
    server: kdnsproc.Server,
) -> None:
    query = clients.make_query("same.remote.test.", "A", qid=4242).to_wire()
    seen = []
    for source in ("127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.3"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((source, 0))
            sock.settimeout(2)
            sock.sendto(query, ("127.0.0.1", server.port))
            seen.append(texts(dns.message.from_wire(sock.recv(65535)).answer))
    assert seen == [["127.0.0.1"], ["127.0.0.1"], ["127.0.0.2"], ["127.0.0.3"]]


def test_a_regex_that_backtracks_exponentially_elsewhere_is_linear_here(
    server: kdnsproc.Server,
) -> None:
    # Under a backtracking engine, 60 "a"s against ^(a+)+$ with a trailing mismatch take 2^60
    # steps and the server would never answer; RE2 (Go's engine) answers at once.
    name = "a" * 60 + "b.redos.test."
    reply = server.query(name, "A", timeout=5)
    assert reply.answer == [] and owners(reply.additional)[0] == f"{name} A"

"""One suite over both transports: answers, rcode rules, EDNS, and what is silently dropped.

CoreDNS gets these rules from miekg/dns's ``DefaultMsgAcceptFunc`` (a response or a datagram
shorter than a header is dropped; QDCOUNT != 1 is FORMERR; an opcode other than QUERY is NOTIMP)
and from ``Server.ServeDNS`` (a name no server block serves is REFUSED; EDNS version > 0 is
BADVERS, RFC 6891 6.1.3). kdns must apply them identically over UDP and TCP.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from tests.support import clients, kdnsproc

VERSION = "kdns-e2e-1.2.3"

COREFILE = f"""\
whoami.test {{
    whoami
}}
bind server {{
    chaos {VERSION} Alice Bob
}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        yield srv


@pytest.fixture(params=["udp", "tcp"])
def proto(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


class Client:
    """One socket (UDP) or connection (TCP) to kdns; keeps the local port for whoami checks."""

    def __init__(self, proto: str, port: int) -> None:
        self.proto = proto
        self.port = port
        if proto == "tcp":
            self.sock = clients.tcp_connect(port)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect((clients.LOCALHOST, port))
        self.local_port: int = self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        if self.proto == "tcp":
            self.sock.sendall(clients.frame(data))
        else:
            self.sock.send(data)

    def receive(self, *, timeout: float = 3.0) -> bytes | None:
        if self.proto == "tcp":
            frames = clients.read_frames(self.sock, 1, timeout=timeout)
            return frames[0] if frames else None
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65535)
        except TimeoutError:
            return None

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def client(server: kdnsproc.Server, proto: str) -> Iterator[Client]:
    c = Client(proto, server.port)
    yield c
    c.close()


def ask(client: Client, message: dns.message.Message) -> dns.message.Message:
    client.send(message.to_wire())
    raw = client.receive()
    assert raw is not None, f"no {client.proto} reply to {message.question[0]}"
    reply = dns.message.from_wire(raw)
    assert reply.id == message.id
    return reply


def ask_raw(client: Client, data: bytes) -> bytes:
    client.send(data)
    raw = client.receive()
    assert raw is not None, f"no {client.proto} reply to {data!r}"
    return raw


def header(
    *, qid: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QUESTION = b"\x06whoami\x04test\x00\x00\x01\x00\x01"


# --- answers ---------------------------------------------------------------------------------


def test_whoami_reports_the_client_address_and_port(client: Client) -> None:
    reply = ask(client, clients.make_query("whoami.test.", "A"))
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.AA
    assert reply.flags & dns.flags.RD, "RD is copied from the query"
    assert not reply.flags & dns.flags.TC
    assert reply.answer == []
    records = {rrset.rdtype: rrset for rrset in reply.additional}
    (address,) = records[dns.rdatatype.A]
    assert address.address == "127.0.0.1"
    srv = records[dns.rdatatype.SRV]
    assert srv.name.to_text() == f"_{client.proto}.whoami.test."
    assert srv[0].port == client.local_port


def test_the_question_is_echoed_in_the_client_letter_case(client: Client) -> None:
    reply = ask(client, clients.make_query("WhOaMi.TeSt.", "A"))
    assert reply.rcode() == dns.rcode.NOERROR
    # dnspython compares names case-insensitively, so compare the text.
    assert reply.question[0].name.to_text() == "WhOaMi.TeSt."
    owners = {rrset.name.to_text() for rrset in reply.additional}
    assert "WhOaMi.TeSt." in owners, "owner names compress into the client's question"


def test_chaos_version_answers_in_class_ch(client: Client) -> None:
    reply = ask(client, clients.make_query("version.bind.", "TXT", "CH"))
    assert reply.rcode() == dns.rcode.NOERROR
    (rrset,) = reply.answer
    assert rrset.rdclass == dns.rdataclass.CH
    assert [b"".join(r.strings).decode() for r in rrset] == [VERSION]


def test_a_name_no_server_block_serves_is_refused(client: Client) -> None:
    query = clients.make_query("www.example.invalid.", "A")
    reply = ask(client, query)
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.question == query.question
    assert reply.answer == reply.additional == []


def test_a_zone_suffix_that_is_not_a_label_boundary_is_refused(client: Client) -> None:
    # "notwhoami.test." ends in the text "whoami.test." but is not under that zone.
    assert ask(client, clients.make_query("notwhoami.test.", "A")).rcode() == dns.rcode.REFUSED


# --- rcode rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [dns.opcode.IQUERY, dns.opcode.STATUS, dns.opcode.UPDATE])
def test_an_opcode_other_than_query_is_not_implemented(client: Client, opcode: int) -> None:
    data = header(qid=0x4242, flags=(opcode << 11) | 0x0100) + QUESTION
    reply = dns.message.from_wire(ask_raw(client, data))
    assert reply.id == 0x4242
    assert reply.rcode() == dns.rcode.NOTIMP
    assert reply.opcode() == opcode, "the opcode is echoed"
    assert reply.flags & dns.flags.QR


@pytest.mark.parametrize("qdcount", [0, 2])
def test_a_question_count_other_than_one_is_a_format_error(client: Client, qdcount: int) -> None:
    data = header(qid=0x0BAD, qd=qdcount) + QUESTION * qdcount
    reply = dns.message.from_wire(ask_raw(client, data))
    assert reply.id == 0x0BAD
    assert reply.rcode() == dns.rcode.FORMERR


def test_a_query_that_is_only_a_header_is_a_format_error(client: Client) -> None:
    raw = ask_raw(client, header(qid=0x7777))
    reply = dns.message.from_wire(raw)
    assert reply.id == 0x7777
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.flags & dns.flags.QR
    assert reply.question == []


def test_a_question_cut_short_is_a_format_error(client: Client) -> None:
    raw = ask_raw(client, header(qid=0x7778) + QUESTION[:-3])
    reply = dns.message.from_wire(raw)
    assert (reply.id, reply.rcode()) == (0x7778, dns.rcode.FORMERR)


def test_a_compression_pointer_in_the_question_is_a_format_error(client: Client) -> None:
    # A pointer to the header itself: nothing before the question can hold a name.
    raw = ask_raw(client, header(qid=0x7779) + b"\xc0\x0c\x00\x01\x00\x01")
    reply = dns.message.from_wire(raw)
    assert (reply.id, reply.rcode()) == (0x7779, dns.rcode.FORMERR)


def assert_dropped(client: Client, bad: bytes) -> None:
    """kdns sends nothing for ``bad``: a valid query sent right after gets the first reply.

    Both transports handle messages in arrival order, so a reply to ``bad`` would come first.
    """
    client.send(bad)
    good = clients.make_query("whoami.test.", "A", qid=0x600D)
    client.send(good.to_wire())
    first = client.receive()
    assert first is not None, "no reply to the valid query after the dropped one"
    assert dns.message.from_wire(first).id == 0x600D, f"kdns answered {bad!r}"
    assert client.receive(timeout=0.3) is None


@pytest.mark.parametrize("size", [0, 1, 2, 11])
def test_a_message_shorter_than_a_header_is_dropped(client: Client, size: int) -> None:
    assert_dropped(client, header(qid=0x6666)[:size])


def test_a_response_is_never_answered(client: Client) -> None:
    assert_dropped(client, header(qid=0x6667, flags=0x8100) + QUESTION)


# --- EDNS ------------------------------------------------------------------------------------


def test_no_opt_record_without_edns_in_the_query(client: Client) -> None:
    reply = ask(client, clients.make_query("whoami.test.", "A", use_edns=False))
    assert reply.edns == -1
    assert reply.opt is None


def test_edns_reply_advertises_1232_bytes(client: Client) -> None:
    reply = ask(client, clients.make_query("whoami.test.", "A", use_edns=0, payload=4096))
    assert reply.edns == 0
    assert reply.payload == 1232
    assert not reply.ednsflags & dns.flags.DO


@pytest.mark.parametrize("name", ["whoami.test.", "www.example.invalid."])
def test_the_do_bit_is_copied(client: Client, name: str) -> None:
    query = clients.make_query(name, "A", use_edns=0, want_dnssec=True)
    reply = ask(client, query)
    assert reply.edns == 0
    assert reply.ednsflags & dns.flags.DO


def test_edns_version_1_is_badvers(client: Client) -> None:
    query = clients.make_query("whoami.test.", "A", use_edns=1)
    reply = ask(client, query)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.edns == 0, "the reply states the version kdns speaks"
    assert reply.question == query.question
    assert reply.additional == []


def test_an_error_reply_keeps_edns(client: Client) -> None:
    reply = ask(client, clients.make_query("www.example.invalid.", "A", use_edns=0))
    assert reply.rcode() == dns.rcode.REFUSED
    assert (reply.edns, reply.payload) == (0, 1232)


def test_the_server_keeps_answering_after_every_rule(client: Client) -> None:
    # Guards against a rule that "works" by wedging the transport: run a few, then ask again.
    for data in (header()[:5], header(qd=0), header(flags=0x2900) + QUESTION):
        client.send(data)
    time.sleep(0.1)
    fresh = Client(client.proto, client.port)
    try:
        reply = ask(fresh, clients.make_query("whoami.test.", "A"))
    finally:
        fresh.close()
    assert reply.rcode() == dns.rcode.NOERROR

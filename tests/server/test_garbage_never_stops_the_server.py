"""Thousands of random and mutated packets: kdns answers what deserves an answer, drops the rest,
never replies to a response, and keeps serving.

Every datagram of at least a header with QR=0 must get exactly one reply (an answer, FORMERR,
NOTIMP, BADVERS, REFUSED or SERVFAIL); shorter ones and responses must get none (a server that
answers responses can be turned into a reflector, and two such servers into a loop). The packets
come from ``random.Random(SEED)``, so a failure replays exactly.
"""

from __future__ import annotations

import collections
import random
import socket
import struct
import time
from collections.abc import Callable, Iterator

import dns.message
import dns.rcode
import pytest

from tests.support import clients, kdnsproc

SEED = 0x6B646E73  # "kdns"
UDP_PACKETS = 5000
TCP_FRAMES = 1000
BATCH = 50

COREFILE = """\
whoami.test {
    log
    errors
    whoami
}
bind server {
    chaos
}
"""

NAMES = ["whoami.test.", "WhOaMi.TeSt.", "a.b.whoami.test.", "version.bind.", "x.example.invalid."]


@pytest.fixture(scope="module")
def server() -> Iterator[kdnsproc.Server]:
    with clients.serve(COREFILE) as srv:
        yield srv


def valid_query(rng: random.Random) -> bytes:
    name = rng.choice(NAMES)
    rdclass = "CH" if name == "version.bind." else "IN"
    types: list[str | int] = ["A", "AAAA", "TXT", "SRV", "ANY", "PTR", 65535]
    rdtype = rng.choice(types)
    use_edns = rng.choice([False, 0, 0, 1])
    q = clients.make_query(
        name,
        rdtype,
        rdclass,
        qid=rng.randrange(65536),
        use_edns=use_edns,
        payload=rng.choice([0, 100, 512, 1232, 4096, 65535]),
        want_dnssec=use_edns is not False and rng.random() < 0.5,
    )
    return q.to_wire()


def ident(data: bytes) -> bytes:
    """The ID of ``data``, padded: mutations that build a new header keep it."""
    return (data + b"\x00\x00")[:2]


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def extend(rng: random.Random, data: bytes) -> bytes:
    return data + rng.randbytes(rng.randint(1, 300))


def bogus_counts(rng: random.Random, data: bytes) -> bytes:
    counts = [rng.choice([0, 1, 2, 3, 255, 65535]) for _ in range(4)]
    return (data + bytes(12))[:4] + struct.pack("!HHHH", *counts) + data[12:]


def compression_loop(rng: random.Random, data: bytes) -> bytes:
    arcount = rng.choice([0, 1])
    head = ident(data) + b"\x01\x00" + struct.pack("!HHHH", 1, 0, 0, arcount)
    loops = [
        b"\xc0\x0c",  # the question name points at itself
        b"\x01a\xc0\x0c",  # a label, then back to its own start
        b"\x01a\xc0\x0e",  # into the middle of itself
    ]
    question = rng.choice(loops) + b"\x00\x01\x00\x01"
    if arcount:
        # An additional record whose owner points at itself, ahead of an OPT.
        question += b"\xc0" + bytes([12 + len(question)]) + b"\x00\x29\x04\xd0" + b"\x00" * 6
    return head + question


def huge_labels(rng: random.Random, data: bytes) -> bytes:
    label = rng.choice([0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xFF])
    body = bytes([label]) + rng.randbytes(rng.randint(0, 70)) + b"\x00\x00\x01\x00\x01"
    return ident(data) + b"\x01\x00" + struct.pack("!HHHH", 1, 0, 0, 0) + body


def long_name(rng: random.Random, data: bytes) -> bytes:
    # 63-byte labels until the name passes 255 bytes (RFC 1035 2.3.4), or just stays under.
    labels = rng.choice([3, 4, 5])
    name = (b"\x3f" + b"a" * 63) * labels + b"\x00"
    head = ident(data) + b"\x01\x00" + struct.pack("!HHHH", 1, 0, 0, 0)
    return head + name + b"\x00\x01\x00\x01"


def bad_opt(rng: random.Random, data: bytes) -> bytes:
    question = b"\x06whoami\x04test\x00\x00\x01\x00\x01"
    owner = rng.choice([b"\x00", b"\x01a\x00", b"\xc0\x0c"])
    rdlen = rng.choice([0, 4, 200, 65535])
    opt = (
        owner
        + b"\x00\x29"
        + struct.pack("!HBBHH", rng.randrange(65536), 0, rng.randrange(256), 0x8000, rdlen)
    )
    opt += rng.randbytes(rng.choice([0, 4, 8]))
    arcount = rng.choice([1, 2])
    head = ident(data) + b"\x01\x00" + struct.pack("!HHHH", 1, 0, 0, arcount)
    return head + question + opt * arcount


def set_header_bits(rng: random.Random, data: bytes) -> bytes:
    flags = rng.randrange(65536)
    return ident(data) + struct.pack("!H", flags) + data[4:]


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    flip_bytes,
    truncate,
    extend,
    bogus_counts,
    compression_loop,
    huge_labels,
    long_name,
    bad_opt,
    set_header_bits,
]


def packets(rng: random.Random, count: int) -> Iterator[bytes]:
    for _ in range(count):
        roll = rng.random()
        if roll < 0.15:
            yield rng.randbytes(rng.randint(0, 600))
        elif roll < 0.25:
            yield valid_query(rng)
        else:
            data = valid_query(rng)
            for _ in range(rng.choice([1, 1, 2, 3])):
                data = rng.choice(MUTATIONS)(rng, data)
            yield data


def deserves_reply(data: bytes) -> bool:
    return len(data) >= 12 and not data[2] & 0x80


def check_reply(raw: bytes) -> None:
    assert len(raw) >= 12 and raw[2] & 0x80, f"reply without QR: {raw!r}"
    # Every reply must be a well-formed message: strict parse, no trailing junk.
    dns.message.from_wire(raw)


def drain(sock: socket.socket, *, want: int, timeout: float) -> list[bytes]:
    deadline = time.monotonic() + timeout
    out: list[bytes] = []
    while len(out) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            out.append(sock.recv(65535))
        except TimeoutError:
            break
    return out


def assert_still_serving(server: kdnsproc.Server) -> None:
    assert server.proc.proc.poll() is None, f"kdns exited:\n{server.proc.output[-3000:]}"
    for tcp in (False, True):
        reply = server.query("WhOaMi.TeSt.", "A", tcp=tcp)
        assert reply.rcode() == dns.rcode.NOERROR
        assert reply.question[0].name.to_text() == "WhOaMi.TeSt."
        assert any(r.rdtype == 1 for r in reply.additional)


def test_thousands_of_mutated_datagrams(server: kdnsproc.Server) -> None:
    rng = random.Random(SEED)
    answered = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    started = time.monotonic()
    sent = 0
    expected = collections.Counter[int]()
    got = collections.Counter[int]()
    silent_sent = 0
    try:
        for sock in (answered, silent):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.connect((server.host, server.port))
        batch: list[bytes] = []
        for data in packets(rng, UDP_PACKETS):
            assert time.monotonic() - started < 45, f"only {sent} packets in 45 s"
            sent += 1
            if deserves_reply(data):
                batch.append(data)
                expected[int.from_bytes(data[:2], "big")] += 1
                answered.send(data)
            else:
                silent_sent += 1
                silent.send(data)
            if len(batch) == BATCH:
                replies = drain(answered, want=len(batch), timeout=3.0)
                for raw in replies:
                    check_reply(raw)
                    got[int.from_bytes(raw[:2], "big")] += 1
                assert len(replies) == len(batch), f"{len(batch) - len(replies)} queries unanswered"
                batch = []
        for raw in drain(answered, want=len(batch), timeout=3.0):
            check_reply(raw)
            got[int.from_bytes(raw[:2], "big")] += 1
        assert got == expected, "every query answered exactly once, under its own ID"
        leaked = drain(silent, want=1, timeout=0.5)
        assert leaked == [], f"kdns answered a response or a runt: {leaked[0]!r}"
    finally:
        answered.close()
        silent.close()
    assert sent == UDP_PACKETS and silent_sent > 100, "the generator covers both kinds"
    assert_still_serving(server)
    assert "Traceback" not in server.proc.output, server.proc.output[-3000:]


def test_random_frames_on_one_tcp_connection(server: kdnsproc.Server) -> None:
    """Replies come back in order here (every answer is local), so each ID is matched in turn."""
    rng = random.Random(SEED + 1)
    frames = list(packets(rng, TCP_FRAMES))
    want = [int.from_bytes(f[:2], "big") for f in frames if deserves_reply(f)]
    with clients.tcp_connect(server.port) as sock:
        sock.sendall(b"".join(clients.frame(f) for f in frames))
        replies = clients.read_frames(sock, len(want), timeout=10)
        extra = clients.read_frames(sock, 1, timeout=0.3)
    assert extra == [], f"a reply to a frame that deserved none: {extra[0]!r}"
    for raw in replies:
        check_reply(raw)
    assert [int.from_bytes(r[:2], "big") for r in replies] == want
    assert_still_serving(server)


def raw_tcp(server: kdnsproc.Server, data: bytes, *, reset: bool = False) -> None:
    sock = clients.tcp_connect(server.port)
    if reset:
        # SO_LINGER 0: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if data:
        sock.sendall(data)
    sock.close()


def test_tcp_garbage_then_close(server: kdnsproc.Server) -> None:
    rng = random.Random(SEED + 2)
    query = clients.make_query("whoami.test.", "A").to_wire()
    cases: list[tuple[bytes, bool]] = [
        (b"", False),  # connect, then close at once
        (b"", True),
        (b"\x00", False),  # half a length prefix
        (b"\xff\xff" + b"x" * 100, False),  # a prefix far larger than the data
        (b"\x01\x00" + query, False),  # 256 announced, fewer sent
        (clients.frame(query)[:-3], True),  # reset mid-message
        (clients.frame(query) * 50, True),  # reset with replies still to write
    ]
    cases += [(rng.randbytes(rng.randint(1, 4000)), rng.random() < 0.5) for _ in range(100)]
    for data, reset in cases:
        raw_tcp(server, data, reset=reset)
    assert_still_serving(server)
    assert "Traceback" not in server.proc.output, server.proc.output[-3000:]

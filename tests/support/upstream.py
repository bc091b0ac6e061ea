"""A scriptable fake upstream DNS server on loopback, for the forward and loop tests.

It listens on UDP and TCP on one free port (and optionally TLS on another), in an asyncio loop of
its own thread, so plain synchronous tests can drive a kdns subprocess against it. Every query is
recorded (`Seen`: name as sent, type, transport, source port, ID, EDNS) before the behaviour
knobs decide the reply. The knobs are plain attributes and may change while it runs:

- ``answers``: extra records by (lower-case name, type name), in zone-file text;
  unlisted A/AAAA/MX/TXT/NS queries get one synthetic record each (``a_count`` A records).
- ``delay`` seconds before replying; ``blackhole`` never replies (reads and forgets).
- ``rcode`` replaces the rcode (SERVFAIL, NXDOMAIN...), with no records; ``rcodes`` does so for
  single names (lower-case, with the trailing dot).
- ``wrong_id_first`` / ``wrong_port_first`` / ``wrong_question_first``: send a spoofed reply
  first (ID off by one bit pattern / from another UDP port / for another name), then the real one.
- ``truncate_udp``: over UDP always an empty TC=1 reply, the full answer over TCP.
- ``oversize_udp``: over UDP the full answer even past the client's buffer (a broken server).
- ``garbage``: a valid header claiming one answer, then bytes that are no DNS at all.

`pause` closes every socket, TCP connections included (queries then meet a closed port), and
`resume` listens again on the same ports.

Like a real server, an answer too big for the query's UDP buffer (512 without EDNS) is sent as an
empty reply with TC set.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
import time
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset

UDP = "udp"
TCP = "tcp"
TLS = "tls"


@dataclass(frozen=True)
class Seen:
    """One query as the upstream received it."""

    name: str
    qtype: str
    transport: str
    port: int
    id: int
    rd: bool
    edns: bool
    payload: int
    do: bool
    #: For TCP and TLS, the number of the connection it came on (1 for the first).
    connection: int = 0
    at: float = field(default_factory=time.monotonic)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port: int = u.getsockname()[1]
            with socket.socket(family, socket.SOCK_STREAM) as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self.server._on_udp(self, data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class FakeUpstream:
    """Start with ``with FakeUpstream() as up:``; ``up.port`` is where it listens."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        plain: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.tls_port = 0
        self._tls = tls
        self._plain = plain
        # Behaviour knobs.
        self.answers: dict[tuple[str, str], list[str]] = {}
        self.a_count = 1
        self.ttl = 60
        self.delay = 0.0
        self.blackhole = False
        self.rcode: int | None = None
        self.rcodes: dict[str, int] = {}
        self.wrong_id_first = False
        self.wrong_port_first = False
        self.wrong_question_first = False
        self.truncate_udp = False
        self.oversize_udp = False
        self.garbage = False
        #: Overrides everything above: returns the reply message, raw bytes, or None (no reply).
        self.handler: Callable[[dns.message.Message, Seen], dns.message.Message | bytes | None]
        self.handler = None  # type: ignore[assignment]
        # Observations.
        self.queries: list[Seen] = []
        self.connections = {TCP: 0, TLS: 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closers: list[Callable[[], None]] = []
        self._spoofer: asyncio.DatagramTransport | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> FakeUpstream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        try:
            self._call(self._open())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._loop is None:
            return
        self._call(self._shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop.close()
        self._loop = None

    def pause(self) -> None:
        """Stop listening (queries now meet a closed port); `resume` listens again, same ports."""
        self._call(self._shut())

    def resume(self) -> None:
        self._call(self._open())

    def _call(self, coro: object) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        if self._plain:
            if not self.port:
                self.port = free_port(self.host)
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UDP(self), local_addr=(self.host, self.port), family=family
            )
            tcp = await asyncio.start_server(
                lambda r, w: self._on_stream(r, w, TCP), self.host, self.port, reuse_address=True
            )
            self._closers += [udp.close, tcp.close]
        if self._tls is not None:
            tls = await asyncio.start_server(
                lambda r, w: self._on_stream(r, w, TLS),
                self.host,
                self.tls_port,
                ssl=self._tls,
                reuse_address=True,
            )
            self.tls_port = tls.sockets[0].getsockname()[1]
            self._closers.append(tls.close)
        spoofer, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=(self.host, 0), family=family
        )
        self._spoofer = spoofer
        self._closers.append(spoofer.close)

    async def _shut(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()
        # Closing a server leaves its connections open; a stopped server drops them too.
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0)

    # --- observations --------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.queries)

    def names(self) -> list[str]:
        return [q.name for q in self.queries]

    def reset(self) -> None:
        self.queries.clear()
        self.connections = {TCP: 0, TLS: 0}

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.01)

    # --- serving -------------------------------------------------------------------------------

    def _record(self, query: dns.message.Message, transport: str, port: int, conn: int) -> Seen:
        q = query.question[0]
        seen = Seen(
            name=q.name.to_text(),
            qtype=dns.rdatatype.to_text(q.rdtype),
            transport=transport,
            port=port,
            id=query.id,
            rd=bool(query.flags & dns.flags.RD),
            edns=query.edns >= 0,
            payload=query.payload if query.edns >= 0 else 0,
            do=bool(query.ednsflags & dns.flags.DO),
            connection=conn,
        )
        self.queries.append(seen)
        return seen

    def _answer(self, query: dns.message.Message, seen: Seen) -> dns.message.Message | bytes | None:
        if self.handler is not None:
            return self.handler(query, seen)
        reply = dns.message.make_response(query, recursion_available=True)
        code = self.rcodes.get(query.question[0].name.to_text().lower(), self.rcode)
        if code is not None:
            reply.set_rcode(code)
            return reply
        if self.garbage:
            head = struct.pack("!HHHHHH", query.id, 0x8180, 1, 1, 0, 0)
            return head + b"\xff\xfe garbage, not DNS \x00\x01" * 3
        q = query.question[0]
        name = q.name
        key = (name.to_text().lower(), dns.rdatatype.to_text(q.rdtype))
        texts = self.answers.get(key)
        if texts is None:
            texts = _synthetic(key[1], self.a_count)
        if texts:
            reply.answer.append(dns.rrset.from_text_list(name, self.ttl, "IN", key[1], texts))
        return reply

    async def _reply_bytes(
        self, query: dns.message.Message, seen: Seen, limit: int | None
    ) -> bytes | None:
        if self.blackhole:
            return None
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self._answer(query, seen)
        if reply is None or isinstance(reply, bytes):
            return reply
        if limit is None:
            return reply.to_wire(max_size=65535)
        if self.truncate_udp:
            return _empty_truncated(reply)
        if self.oversize_udp:
            return reply.to_wire(max_size=65535)
        try:
            return reply.to_wire(max_size=limit)
        except dns.exception.TooBig:
            return _empty_truncated(reply)

    async def _on_udp(self, proto: _UDP, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        seen = self._record(query, UDP, addr[1], 0)
        limit = max(query.payload, 512) if query.edns >= 0 else 512
        wire = await self._reply_bytes(query, seen, limit)
        if wire is None or proto.transport is None or proto.transport.is_closing():
            return
        if self.wrong_id_first:
            proto.transport.sendto(_with_id(wire, query.id ^ 0x5A5A), addr)
        if self.wrong_question_first:
            proto.transport.sendto(_other_question(query), addr)
        if self.wrong_port_first and self._spoofer is not None:
            self._spoofer.sendto(_spoofed(wire), addr)
        if self.wrong_id_first or self.wrong_port_first or self.wrong_question_first:
            await asyncio.sleep(0.05)
        proto.transport.sendto(wire, addr)

    async def _on_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str
    ) -> None:
        self.connections[transport] += 1
        conn = self.connections[transport]
        port = writer.get_extra_info("peername")[1]
        tasks: set[asyncio.Task[None]] = set()
        self._writers.add(writer)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
                try:
                    query = dns.message.from_wire(data)
                except Exception:
                    break
                seen = self._record(query, transport, port, conn)
                task = asyncio.ensure_future(self._stream_reply(writer, query, seen))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    async def _stream_reply(
        self, writer: asyncio.StreamWriter, query: dns.message.Message, seen: Seen
    ) -> None:
        wire = await self._reply_bytes(query, seen, None)
        if wire is None or writer.is_closing():
            return
        if self.wrong_id_first:
            bad = _with_id(wire, query.id ^ 0x5A5A)
            writer.write(struct.pack("!H", len(bad)) + bad)
        writer.write(struct.pack("!H", len(wire)) + wire)


def _synthetic(rdtype: str, a_count: int) -> list[str]:
    if rdtype == "A":
        return [f"192.0.2.{i + 1}" if i < 250 else f"198.51.100.{i - 249}" for i in range(a_count)]
    return {
        "AAAA": ["2001:db8::1"],
        "MX": ["10 mail.example.net."],
        "TXT": ['"hello from upstream"'],
        "NS": ["ns.example.net."],
    }.get(rdtype, [])


def _empty_truncated(reply: dns.message.Message) -> bytes:
    reply.answer.clear()
    reply.authority.clear()
    reply.additional.clear()
    reply.flags |= dns.flags.TC
    return reply.to_wire()


def _with_id(wire: bytes, qid: int) -> bytes:
    return struct.pack("!H", qid & 0xFFFF) + wire[2:]


def _spoofed(wire: bytes) -> bytes:
    """The real reply with its answers' addresses changed, so a test can tell if it was taken."""
    message = dns.message.from_wire(wire)
    for rrset in message.answer:
        if rrset.rdtype == dns.rdatatype.A:
            rrset.clear()
            rrset.add(dns.rdata.from_text("IN", "A", "203.0.113.66"))
    return message.to_wire()


def _other_question(query: dns.message.Message) -> bytes:
    other = dns.message.make_query("spoofed.example.", "A")
    other.id = query.id
    reply = dns.message.make_response(other)
    reply.answer.append(dns.rrset.from_text("spoofed.example.", 60, "IN", "A", "203.0.113.67"))
    return reply.to_wire()


@contextlib.contextmanager
def running(**knobs: object) -> Iterator[FakeUpstream]:
    """A started `FakeUpstream` with ``knobs`` set."""
    with FakeUpstream() as upstream:
        for name, value in knobs.items():
            if not hasattr(upstream, name):
                raise AttributeError(name)
            setattr(upstream, name, value)
        yield upstream

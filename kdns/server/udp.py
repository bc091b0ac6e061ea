"""UDP listener: reads datagrams straight off a non-blocking socket.

The socket is driven with ``loop.add_reader`` instead of a datagram transport
for two reasons: the transport reads every datagram into a 256 KiB buffer
(measured 3x slower), and a wildcard bind must reply from the address the query
was sent to (IP_PKTINFO / IPV6_PKTINFO), which transports cannot do. Without
that, a host with several addresses answers from whichever one routing picks
and clients drop the reply as coming from an unexpected source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct

from kdns.request import UDP
from kdns.server import dispatch
from kdns.server.zones import ZoneTable

log = logging.getLogger("kdns.server")

#: Datagrams read per wake-up before yielding to the loop, so one busy socket
#: cannot starve TCP clients or timers.
BATCH = 64
#: Larger datagrams are cut (and then fail to parse); no DNS query is this big.
MAX_DATAGRAM = 65535
_IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


class UDPListener:
    def __init__(self, table: ZoneTable, host: str, port: int) -> None:
        self.table = table
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pktinfo = is_wildcard(host)
        self._buf = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buf)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        assert self._sock is not None
        return self._sock.getsockname()[:2]

    def open(self) -> None:
        """Bind and start reading."""
        sock = _bind(self.host, self.port, pktinfo=self._pktinfo)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    async def close(self) -> None:
        """Stop reading, let replies still being worked out go out (up to 5 s), then close."""
        sock = self._sock
        if sock is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(sock.fileno())
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._sock = None
        sock.close()

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        table = self.table
        view = self._view
        for _ in range(BATCH):
            try:
                if self._pktinfo:
                    n, ancdata, _flags, addr = sock.recvmsg_into([view], 64)
                else:
                    n, addr = sock.recvfrom_into(view)
                    ancdata = None
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log.debug("udp read on %s:%s: %s", self.host, self.port, err)
                return
            reply = dispatch.handle(table, bytes(view[:n]), UDP, addr)
            if reply is None:
                continue
            if type(reply) is bytes:
                self._send(reply, addr, ancdata)
            else:
                task = asyncio.ensure_future(self._send_later(reply, addr, ancdata))  # type: ignore[arg-type]
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send_later(
        self, pending: dispatch.Reply, addr: tuple[str, int], ancdata: object
    ) -> None:
        reply = await pending  # type: ignore[misc]
        if reply is not None:
            self._send(reply, addr, ancdata)

    def _send(self, reply: bytes, addr: tuple[str, int], ancdata: object) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            if ancdata:
                sock.sendmsg([reply], _reply_cmsg(ancdata), 0, addr)  # type: ignore[arg-type]
            else:
                sock.sendto(reply, addr)
        except (BlockingIOError, InterruptedError):
            log.debug("udp send buffer full, reply to %s dropped", addr)
        except OSError as err:
            log.debug("udp send to %s: %s", addr, err)


def _reply_cmsg(ancdata: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Ancillary data that makes the reply leave from the address the query arrived at."""
    out = []
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(data) >= 12:
            _ifindex, _spec, dest = struct.unpack("=I4s4s", data[:12])
            out.append((level, kind, struct.pack("=I4s4s", 0, dest, b"\x00" * 4)))
        elif level == socket.IPPROTO_IPV6 and kind == _IPV6_PKTINFO:
            out.append((level, kind, data))
    return out


def _bind(host: str, port: int, *, pktinfo: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # As CoreDNS: a wildcard block and a bound block may share a port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if pktinfo:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock

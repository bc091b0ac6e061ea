"""Send the loop plugin's probe through the server block's own listener, once it listens.

As CoreDNS does from its ``OnStartup`` hook, in a task of its own, because the startup hooks run
before the listeners open: the probe goes to the block's first listen address (loopback when it
listens on every address) and port, as a UDP query like any client's, and then runs the whole
chain. A reply of any kind means the probe went round at most as far as the answer came from;
loop detection stays on for 2 s more, then stops. A listener not open yet is retried every 0.1 s;
a timeout (an upstream that ignores HINFO) is not fatal: the count is reset and the probe tried
again, at most `MAX_TIMEOUTS` times, within CoreDNS's 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kdns import config
from kdns.pkg.upstream import errors, message, transport
from kdns.plugins.loop.handler import Loop

log = logging.getLogger("kdns.plugin.loop")

#: CoreDNS gives up probing after 30 s.
DEADLINE = 30.0
#: CoreDNS's probe is ``dns.Exchange``, which waits 2 s for a reply.
TIMEOUT = 2.0
#: Loop detection stays on this long after the probe got its reply.
LINGER = 2.0
MAX_TIMEOUTS = 3
RETRY_CLOSED = 0.1
RETRY_TIMEOUT = 1.0


def target(server: config.ServerConfig) -> tuple[transport.Address, str] | None:
    """Where to send the probe, and the address as CoreDNS prints it; None if unknown."""
    if not server.port:
        return None
    host = server.listen[0] if server.listen else ""
    label = errors.address(host, server.port) if host else f":{server.port}"
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return transport.Address(host, server.port), label


class Prober:
    def __init__(self, handler: Loop, server: config.ServerConfig) -> None:
        self.handler = handler
        self.server = server
        self.template = message.query(message.question(handler.qname, message.TYPE_HINFO))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-probe")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.handler.disabled = True

    async def _run(self) -> None:
        handler = self.handler
        try:
            where = target(self.server)
            if where is None:
                log.warning("plugin/loop: no fixed port to send the probe to; not checking")
                return
            addr, handler.address = where
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE
            timeouts = 0
            while loop.time() < deadline and not handler.detected:
                try:
                    await transport.exchange_udp(addr, self.template, timeout=TIMEOUT)
                except errors.Refused:
                    await asyncio.sleep(RETRY_CLOSED)
                    continue
                except errors.UpstreamError as err:
                    log.debug("plugin/loop: probe %s: %s", handler.qname, err)
                    handler.reset()
                    timeouts += 1
                    if timeouts >= MAX_TIMEOUTS:
                        return
                    await asyncio.sleep(RETRY_TIMEOUT)
                    continue
                await asyncio.sleep(LINGER)
                return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("plugin/loop: probe failed")
        finally:
            handler.disabled = True

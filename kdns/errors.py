"""The exception root of kdns and the families that map to how a failure is reported."""

import errno
import os


class KdnsError(Exception):
    """Base class of every error kdns raises on purpose."""


class ConfigError(KdnsError):
    """A configuration problem that stops startup (or a reload) with a one-line reason."""


class CorefileError(ConfigError):
    """A Corefile problem, reported as CoreDNS does.

    ``str(err)`` is ``[plugin/NAME: ]FILE:LINE - Error during parsing: REASON``.
    """

    def __init__(self, reason: str, *, file: str, line: int, plugin: str | None = None) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.plugin = plugin
        prefix = f"plugin/{plugin}: " if plugin else ""
        super().__init__(f"{prefix}{file}:{line} - Error during parsing: {reason}")


class ListenError(KdnsError):
    """A listener that cannot open, in the words of CoreDNS (Go's ``net.OpError``).

    ``str(err)`` is ``WHO: listen PROTO HOST:PORT: bind: REASON``, e.g.
    ``plugin/health: listen tcp 127.0.0.1:8080: bind: address already in use``;
    ``WHO`` is ``Listen``/``ListenPacket`` for DNS listeners, as CoreDNS prints them.
    """

    def __init__(self, err: OSError, proto: str, host: str | None, port: int, *, who: str) -> None:
        self.errno = err.errno
        if err.errno:
            reason = os.strerror(err.errno)
            reason = reason[:1].lower() + reason[1:]
        else:
            reason = str(err)
        if err.errno == errno.EACCES and port < 1024:
            reason += (
                ": binding a port below 1024 needs CAP_NET_BIND_SERVICE "
                "or sysctl net.ipv4.ip_unprivileged_port_start"
            )
        host = host or ""
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        super().__init__(f"{who}: listen {proto} {address}: bind: {reason}")

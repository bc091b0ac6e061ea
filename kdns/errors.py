"""The exception root of kdns and the families that map to how a failure is reported."""


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

"""One small aiohttp endpoint (AppRunner + TCPSite), as health, ready and prometheus use it.

Signals stay with kdns (``handle_signals=False``); access logs are off.
"""

from __future__ import annotations

from aiohttp import web

from kdns.errors import ConfigError


def split_address(text: str, default_port: int) -> tuple[str | None, int]:
    """``:8080`` / ``127.0.0.1:8080`` / ``[::1]:8080`` / ``localhost`` → (host or None for all, port)."""
    host, port = text, str(default_port)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"bad address '{text}'")
        host, rest = text[1:end], text[end + 1 :]
        if rest.startswith(":"):
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif text.count(":") > 1:
        host = text
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"bad port in address '{text}'") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"bad port in address '{text}'")
    return (host or None), number


class Endpoint:
    """An HTTP listener serving a few GET routes."""

    def __init__(self, address: str, default_port: int) -> None:
        self.address = address
        self.host, self.port = split_address(address, default_port)
        self.app = web.Application()
        self._runner: web.AppRunner | None = None

    def get(self, path: str, handler: web.RequestHandler) -> None:  # type: ignore[type-arg]
        self.app.router.add_get(path, handler)

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

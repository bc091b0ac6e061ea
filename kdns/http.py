"""HTTP endpoints (health, ready, prometheus): one aiohttp listener per address, per process.

An endpoint is shared by every configuration that names its address and
reference-counted, so a reload that keeps the address keeps the listener (no
moment when probes or scrapes are refused), and the routes are re-pointed at
the new configuration's handlers. Signals stay with kdns (``handle_signals=False``);
access logs are off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from kdns.errors import ConfigError, ListenError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    """An HTTP listener serving a few GET routes, whose handlers can be replaced."""

    def __init__(self, host: str | None, port: int) -> None:
        self.host = host
        self.port = port
        self.routes: dict[str, Handler] = {}
        self.users = 0
        self._runner: web.AppRunner | None = None

    def get(self, path: str, handler: Handler) -> None:
        """Serve ``path`` with ``handler`` (replacing the one a previous configuration set)."""
        self.routes[path] = handler

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self.routes.get(request.path)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    async def acquire(self, plugin: str) -> None:
        """One more configuration uses this endpoint; listen if nobody did.

        :raises ListenError: naming ``plugin`` when the address cannot be bound.
        """
        self.users += 1
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException as err:
            self.users -= 1
            await runner.cleanup()
            if isinstance(err, OSError):
                raise ListenError(
                    err, "tcp", self.host, self.port, who=f"plugin/{plugin}"
                ) from None
            raise
        self._runner = runner

    async def release(self) -> None:
        """One configuration stopped using this endpoint; stop listening when none does."""
        self.users -= 1
        if self.users <= 0 and self._runner is not None:
            runner, self._runner = self._runner, None
            _endpoints.pop((self.host, self.port), None)
            await runner.cleanup()


_endpoints: dict[tuple[str | None, int], Endpoint] = {}


def endpoint(address: str, default_port: int) -> Endpoint:
    """The process's endpoint for ``address``."""
    key = split_address(address, default_port)
    found = _endpoints.get(key)
    if found is None:
        found = _endpoints[key] = Endpoint(*key)
    return found

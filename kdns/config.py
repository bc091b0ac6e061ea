"""Turn parsed server blocks into running configuration: run each directive's setup.

This is CoreDNS's ``dnsserver.Config`` plus Caddy's controller. Setup runs at load
time, never per query: each plugin parses its directive into options, registers
a handler factory, and startup/shutdown hooks. The chain of a server block is
built once from the factories, in ``plugins.ORDER``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kdns import corefile, plugin, plugins
from kdns.errors import ConfigError, CorefileError

Hook = Callable[[], Awaitable[None]]
T = TypeVar("T")

DEFAULT_PORT = 53


@dataclass
class ServerConfig:
    """One server block, after setup."""

    block: corefile.ServerBlock
    zones: tuple[str, ...]
    port: int
    scheme: str
    #: Addresses to listen on; empty means every address (CoreDNS's default).
    listen: list[str] = field(default_factory=list)
    factories: list[tuple[str, plugin.PluginFactory]] = field(default_factory=list)
    handler: plugin.Handler = field(default_factory=lambda: plugin.NoNext("server"))
    #: Directive names present in the block, for plugins that look at their neighbours.
    directives: set[str] = field(default_factory=set)
    #: ``timeouts`` settings (read, write, idle in seconds; maxtcpqueries) for its TCP listeners.
    tcp_timeouts: dict[str, float] = field(default_factory=dict)

    @property
    def key_texts(self) -> list[str]:
        return [f"{zone}:{self.port}" for zone in self.zones]


@dataclass(frozen=True, slots=True)
class ReloadSettings:
    """``reload [INTERVAL] [JITTER]``: how often the Corefile is checked for a change."""

    interval: float
    jitter: float


class Process:
    """The running kdns, as a plugin may address it: ask it to stop, with an exit code.

    The lifecycle (``kdns.lifecycle.Runner``) owns one and hands the same object to every
    configuration it loads, so a request made under one configuration outlives a reload.
    """

    def __init__(self) -> None:
        self.exit_code = 0
        #: What stops the server; set by the lifecycle (nothing to stop before it serves).
        self.on_stop: Callable[[], None] | None = None

    def request_stop(self, exit_code: int = 0) -> None:
        """Stop serving, gracefully, and exit with ``exit_code`` (the highest one asked)."""
        self.exit_code = max(self.exit_code, exit_code)
        if self.on_stop is not None:
            self.on_stop()


class DataSource(Protocol):
    """A cache filled from outside kdns (the Kubernetes API), as a configuration starts it."""

    async def start(self) -> None: ...

    async def wait_ready(self, timeout: float) -> bool: ...

    async def stop(self) -> None: ...


@dataclass
class Hooks:
    """What a loaded configuration must start and stop, shared by all its server blocks."""

    startup: list[Hook] = field(default_factory=list)
    #: Run on shutdown while the listeners still answer (health's lameduck sleeps here).
    shutdown: list[Hook] = field(default_factory=list)
    #: Run once the listeners are closed (stop watches, close HTTP endpoints).
    cleanup: list[Hook] = field(default_factory=list)
    #: Set when shutdown begins, so readiness fails at once (lameduck).
    draining: bool = False
    #: name -> check, for the ready plugin.
    readiness: dict[str, Callable[[], bool]] = field(default_factory=dict)
    #: Objects several blocks share (one health endpoint per address, ...).
    shared: dict[str, Any] = field(default_factory=dict)
    #: The caches that fill from outside (the kubernetes plugin's API watches): started by a
    #: plugin's startup hook, and by ``kdns explain``, which runs no hooks, directly.
    sources: list[DataSource] = field(default_factory=list)
    #: The ``reload`` directive's settings; None when no block has it.
    reload: ReloadSettings | None = None
    #: The process serving this configuration.
    process: Process = field(default_factory=Process)


class Controller:
    """What a plugin's ``setup(directive, controller)`` gets to work with."""

    def __init__(self, directive: corefile.Directive, config: ServerConfig, hooks: Hooks) -> None:
        self.directive = directive
        self.config = config
        self.hooks = hooks

    @property
    def zones(self) -> tuple[str, ...]:
        return self.config.zones

    def add_plugin(
        self,
        factory: plugin.PluginFactory,
        *,
        before: Callable[[plugin.PluginFactory], bool] | None = None,
    ) -> None:
        """Add this directive's handler to the chain, after those of earlier directives; with
        ``before``, ahead of the first earlier line of the same directive it holds for (how
        several ``forward`` lines order themselves by zone)."""
        entry = (self.directive.name, factory)
        if before is not None:
            for i, (name, other) in enumerate(self.config.factories):
                if name == self.directive.name and before(other):
                    self.config.factories.insert(i, entry)
                    return
        self.config.factories.append(entry)

    def on_startup(self, hook: Hook) -> None:
        self.hooks.startup.append(hook)

    def on_shutdown(self, hook: Hook) -> None:
        self.hooks.shutdown.append(hook)

    def on_cleanup(self, hook: Hook) -> None:
        self.hooks.cleanup.append(hook)

    def register_readiness(self, name: str, check: Callable[[], bool]) -> None:
        self.hooks.readiness.setdefault(name, check)

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """One object per loaded configuration under ``key``, made on first use."""
        if key not in self.hooks.shared:
            self.hooks.shared[key] = make()
        value: T = self.hooks.shared[key]
        return value

    def add_source(self, source: DataSource) -> None:
        """Name a cache this configuration fills from outside (``kdns explain`` starts it)."""
        self.hooks.sources.append(source)

    def once_per_block(self) -> None:
        """Refuse a second line of this directive in the same server block."""
        name = self.directive.name
        marker = f"once:{name}"
        if marker in self.config.directives:
            raise self.directive.error(f"plugin '{name}' can only be used once per server block")
        self.config.directives.add(marker)


@dataclass
class Loaded:
    servers: list[ServerConfig]
    hooks: Hooks


def load(
    blocks: list[corefile.ServerBlock],
    *,
    default_port: int = DEFAULT_PORT,
    problems: list[ConfigError] | None = None,
) -> Loaded:
    """Run every directive's setup and build each server block's chain.

    With ``problems``, a failing directive is recorded there and loading goes on with the next
    one, so that every problem of a Corefile is found in one pass (``kdns -validate``); the
    result is then only fit for reporting. Without it, the first problem is raised.
    """
    hooks = Hooks()
    servers = []
    for block in blocks:
        groups: dict[tuple[str, int], list[str]] = {}
        for key in block.keys:
            groups.setdefault((key.scheme, key.port or default_port), []).append(key.zone)
        for (scheme, port), zones in groups.items():
            servers.append(_setup_block(block, scheme, port, zones, hooks, problems))
    try:
        check_listeners(servers)
    except ConfigError as err:
        if problems is None:
            raise
        problems.append(err)
    return Loaded(servers=servers, hooks=hooks)


def check_listeners(servers: list[ServerConfig]) -> None:
    """Refuse two blocks that would both answer one zone on one address, as CoreDNS does.

    The same zone and port may appear in several blocks that ``bind`` different addresses
    (AKS LocalDNS does): each address is served by its own block. The same address twice, or a
    block without ``bind`` (every address) beside a bound one, is an error naming both.
    """
    seen: dict[tuple[str, str, int], list[tuple[str, ServerConfig]]] = {}
    for server in servers:
        for zone in server.zones:
            key = (server.scheme, zone, server.port)
            for host in server.listen or [""]:
                for other_host, other in seen.get(key, []):
                    if other_host != host and other_host and host:
                        continue
                    this = _served_at(server, zone, host)
                    if other_host == host:
                        reason = f"zone already defined at {other.block.file}:{other.block.line}"
                    else:
                        reason = (
                            f"zone overlap listener capacity with "
                            f"{_served_at(other, zone, other_host)} "
                            f"({other.block.file}:{other.block.line})"
                        )
                    raise CorefileError(
                        f"cannot serve {this} - {reason}",
                        file=server.block.file,
                        line=server.block.line,
                    )
                seen.setdefault(key, []).append((host, server))


def _served_at(server: ServerConfig, zone: str, host: str) -> str:
    """``dns://ZONE[:PORT][ on ADDRESS]``, the port as the block's key wrote it."""
    written = next((k for k in server.block.keys if k.zone == zone), None)
    port = "" if written is not None and written.port is None else f":{server.port}"
    where = f" on {host}" if host else ""
    return f"{server.scheme}://{zone}{port}{where}"


def _setup_block(
    block: corefile.ServerBlock,
    scheme: str,
    port: int,
    zones: list[str],
    hooks: Hooks,
    problems: list[ConfigError] | None = None,
) -> ServerConfig:
    """Set up one server block for its keys on one port (CoreDNS: one config per key)."""
    config = ServerConfig(
        block=block,
        zones=tuple(dict.fromkeys(zones)),
        port=port,
        scheme=scheme,
    )
    config.directives = {d.name for d in block.directives}
    ordered = []
    for directive in block.directives:
        setup = plugins.setup_function(directive.name)
        if setup is None:
            why = (
                " (a CoreDNS plugin kdns does not implement)"
                if directive.name in plugins.COREDNS_ONLY
                else ""
            )
            unknown = CorefileError(
                f"Unknown directive '{directive.name}'{why}",
                file=directive.file,
                line=directive.line,
            )
            if problems is None:
                raise unknown
            problems.append(unknown)
            continue
        ordered.append((plugins.rank(directive.name), directive, setup))
    ordered.sort(key=lambda item: item[0])
    for _, directive, setup in ordered:
        try:
            setup(directive, Controller(directive, config, hooks))
        except ConfigError as err:
            if problems is None:
                raise
            problems.append(err)
    config.handler = plugin.build_chain(config.factories)
    return config

"""The ``kdns`` command: CoreDNS's flags (Go style, single dash), load the Corefile, serve.

Flags: ``-conf PATH``, ``-dns.port N``, ``-plugins``, ``-version``, ``-quiet``, ``-validate``;
``-flag=value`` and ``--flag`` work as with Go's flag package. An unknown flag
prints the usage on stderr and exits 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import resource
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kdns import __version__, config, corefile, goflag, lifecycle, logs, plugins
from kdns.errors import ConfigError, CorefileError, KdnsError
from kdns.goflag import UsageError

log = logging.getLogger("kdns")

#: Port for server blocks that name none when kdns runs its embedded default.
EMBEDDED_PORT = 1053

USAGE = """\
Usage of kdns:
  -conf string
    \tCorefile to load (default "Corefile"; the embedded example if absent)
  -dns.port string
    \tDefault port (default "53"; 1053 for the embedded example)
  -plugins
    \tList installed plugins
  -quiet
    \tQuiet mode (no initialization output)
  -validate
    \tCheck the Corefile without serving: print every problem, exit 1 if any
  -version
    \tShow version

Subcommands:
  migrate-kube-dns [-cluster-domain DOMAIN] CONFIGMAP.yaml
    \tPrint the Corefile equivalent to a kube-dns ConfigMap
    \t(kdns migrate-kube-dns -help for more)
"""


@dataclass
class Options:
    conf: str | None = None
    port: int | None = None
    plugins: bool = False
    version: bool = False
    quiet: bool = False
    validate: bool = False
    help: bool = False


_BOOL = {"plugins", "version", "quiet", "validate", "h", "help"}
_VALUE = {"conf", "dns.port"}


def parse_args(argv: list[str]) -> Options:
    opts = Options()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            raise UsageError(f"unexpected argument: {arg}")
        name, inline = goflag.split(arg)
        if name in _BOOL:
            if inline is not None and inline.lower() not in ("true", "false", "1", "0"):
                raise UsageError(f'invalid boolean value "{inline}" for -{name}')
            flag = inline is None or inline.lower() in ("true", "1")
            if name in ("h", "help"):
                opts.help = flag
            else:
                setattr(opts, name, flag)
            continue
        if name not in _VALUE:
            raise UsageError(f"flag provided but not defined: -{name}")
        value = goflag.value(name, inline, args)
        if name == "conf":
            opts.conf = value
        else:
            opts.port = goflag.integer(name, value)
            if not 0 <= opts.port <= 65535:
                raise UsageError(f'invalid value "{value}" for flag -dns.port')
    return opts


def embedded_corefile() -> Path:
    return Path(str(resources.files("kdns") / "defaults" / "Corefile"))


def choose_corefile(opts: Options) -> tuple[Path, int]:
    """The Corefile to load and the default port, as the flags and working directory say."""
    if opts.conf:
        return Path(opts.conf), opts.port if opts.port is not None else config.DEFAULT_PORT
    local = Path("Corefile")
    if local.is_file():
        return local, opts.port if opts.port is not None else config.DEFAULT_PORT
    return embedded_corefile(), opts.port if opts.port is not None else EMBEDDED_PORT


def load(path: Path, default_port: int) -> config.Loaded:
    """Read and set up ``path``; a Corefile with no server block is an error (it serves nothing)."""
    blocks = corefile.load(path)
    if not blocks:
        raise CorefileError(
            "no server block: the Corefile serves nothing",
            file=str(path),
            line=1,
        )
    return config.load(blocks, default_port=default_port)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["migrate-kube-dns"]:
        from kdns import migrate

        return migrate.main(args[1:])
    if args[:1] == ["explain"]:
        from kdns.explain import command

        return command.main(args[1:])
    try:
        opts = parse_args(args)
    except UsageError as err:
        print(err, file=sys.stderr)
        print(USAGE, file=sys.stderr, end="")
        return 2
    if opts.help:
        print(USAGE, end="")
        return 0
    if opts.version:
        print(f"kdns-{__version__}")
        print(
            f"{platform.system().lower()}/{platform.machine()}, python{platform.python_version()}"
        )
        return 0
    if opts.plugins:
        print("Server types:\n  dns\n\nOther plugins:")
        for name in plugins.available():
            print(f"  dns.{name}")
        return 0
    logs.setup()
    path, port = choose_corefile(opts)
    if opts.validate:
        return _validate(path, port)
    try:
        loaded = load(path, port)
    except FileNotFoundError as err:
        print(f"Corefile {err.filename}: no such file", file=sys.stderr)
        return 1
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    return run(path, port, loaded, quiet=opts.quiet)


def _validate(path: Path, port: int) -> int:
    from kdns import validate

    found = validate.problems(path, port)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 1
    print(f"{path}: OK")
    return 0


def raise_descriptor_limit() -> None:
    """Lift the soft limit on open descriptors to the hard one, as Go's runtime does for
    CoreDNS: 1,000 TCP connections per listener and the upstream sockets do not fit in the
    1,024 most systems start processes with."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(path: Path, port: int, loaded: config.Loaded, *, quiet: bool = False) -> int:
    raise_descriptor_limit()
    runner = lifecycle.Runner(path, port, load)
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.run(_serve(runner, loaded, quiet))
    return asyncio.run(_serve(runner, loaded, quiet))


async def _serve(runner: lifecycle.Runner, loaded: config.Loaded, quiet: bool) -> int:
    """Serve until stopped; a start-up failure is one line on stderr and exit 1.

    A configuration that fails to start has undone itself (``Instance.start``): no
    lameduck is waited out for a server that never served.
    """
    try:
        return await runner.serve(loaded, quiet=quiet)
    except (KdnsError, OSError) as err:
        print(err, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""The distributions' default Corefiles (../shared/reference/corefiles), made runnable on loopback.

Each file is served as shipped except for these substitutions, and only these:

* server-block ports 53 and 5353 become one free high port;
* every ``forward`` upstream (``/etc/resolv.conf``, 10.96.0.10, 168.63.129.16, fd00:ec2::253,
  1.1.1.1...) becomes one loopback fake upstream: no test traffic leaves the machine;
* ``prometheus``, ``health`` and ``ready`` addresses (bare or ``:9153``, ``:8080``, ``:8181``,
  ``:9253``, ``0.0.0.0:9153``...) become free loopback ports, the same original address mapping to
  the same new one, so blocks that share a listener still share it;
* ``bind`` addresses become loopback ones (``BIND_ADDRESSES``);
* each ``kubernetes`` block gains ``kubeconfig`` pointing at the fake API server;
* hosts files named by absolute path (k3s's NodeHosts, kops's /rootfs/etc/hosts) become files in
  the test's directory.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from tests.support import kdnsproc

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "corefiles"
SENTINEL = "# ==== Corefile follows"

BIND_ADDRESSES = {
    "169.254.10.10": "127.0.0.10",
    "169.254.10.11": "127.0.0.11",
    "169.254.20.10": "127.0.0.20",
    "10.96.0.10": "127.0.0.21",
}
HOSTS_FILES = {
    "/etc/coredns/NodeHosts": "NodeHosts",
    "/rootfs/etc/hosts": "rootfs-hosts",
}
_HTTP_PLUGINS = ("prometheus", "health", "ready")


def files() -> list[Path]:
    return sorted(REFERENCE.glob("*.Corefile"))


def shipped(path: Path) -> str:
    """The Corefile bytes after the header's sentinel line, as the distribution ships them."""
    text = path.read_text()
    _, sep, rest = text.partition(SENTINEL)
    return rest.split("\n", 1)[1] if sep else text


@dataclasses.dataclass
class Adapted:
    text: str
    port: int
    #: Original HTTP listener address (e.g. ``:9153``, ``""`` for a bare directive) -> new port.
    http: dict[tuple[str, str], int]
    #: The address kdns answers on first (the first bind, else 127.0.0.1).
    host: str


def adapt(text: str, *, upstream: str, kubeconfig: Path, workdir: Path) -> Adapted:
    port = kdnsproc.free_port()
    http: dict[tuple[str, str], int] = {}
    out = []
    for line in text.split("\n"):
        stripped = line.strip()
        words = stripped.split()
        if line and not line[0].isspace() and stripped.endswith("{") and not line.startswith("#"):
            line = re.sub(r":(?:53|5353)(?=[\s{,])", f":{port}", line)
        elif words and words[0] == "forward" and len(words) >= 3:
            tail = " {" if stripped.endswith("{") else ""
            line = f"{line[: len(line) - len(line.lstrip())]}forward {words[1]} {upstream}{tail}"
        elif words and words[0] in _HTTP_PLUGINS:
            original = words[1] if len(words) > 1 and words[1] != "{" else ""
            key = (words[0], original)
            if key not in http:
                http[key] = kdnsproc.free_port()
            tail = " {" if stripped.endswith("{") else ""
            indent = line[: len(line) - len(line.lstrip())]
            line = f"{indent}{words[0]} 127.0.0.1:{http[key]}{tail}"
        elif words and words[0] == "bind":
            for old, new in BIND_ADDRESSES.items():
                line = re.sub(rf"(?<![\d.]){re.escape(old)}(?![\d.])", new, line)
        elif words and words[0] == "hosts":
            for old, new in HOSTS_FILES.items():
                line = line.replace(old, str(workdir / new))
        out.append(line)
        if words and words[0] == "kubernetes":
            indent = line[: len(line) - len(line.lstrip())] + "    "
            if stripped.endswith("{"):
                out.append(f"{indent}kubeconfig {kubeconfig}")
            else:
                out[-1] = f"{line} {{\n{indent}kubeconfig {kubeconfig}\n{indent[:-4]}}}"
    adapted = "\n".join(out)
    binds = re.findall(r"^\s*bind\s+(\S+)", adapted, flags=re.M)
    return Adapted(adapted, port, http, binds[0] if binds else "127.0.0.1")

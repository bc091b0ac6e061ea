"""``kdns migrate-kube-dns``: the Corefile equivalent to a kube-dns ConfigMap.

kube-dns was configured through the ``kube-system/kube-dns`` ConfigMap; kubeadm translated it when
it moved clusters to CoreDNS (kubernetes/kubeadm#662, kubernetes/kubernetes#58828), and this does
the same translation:

* ``data.stubDomains`` (JSON ``{"domain": ["ip[:port]", ...]}``) gives one server block per
  domain, ``domain:53 { errors; cache 30; forward . IP[:PORT]... }``;
* ``data.upstreamNameservers`` (JSON ``["ip[:port]", ...]``) replaces ``/etc/resolv.conf`` in the
  main block's ``forward .``;
* the main block is the one kubeadm writes for a new cluster (SPEC-NOTES §5).

kube-dns later accepted host names as well as addresses. ``forward`` takes addresses only, and
translating names made an invalid Corefile and a broken cluster (kubernetes/kubeadm#1473), so
names are left out with a warning, as kubeadm does since; a value that can only be meant as an
address but is none (``8.8.8.300``) is refused. ``federations`` went to CoreDNS's retired
federation plugin, which kdns does not have: a ConfigMap using it is refused. Other ``data``
keys, which kube-dns ignored (a typo such as ``stubDomain``), are warned about.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import sys
from typing import Any

import yaml

from kdns import goflag
from kdns.errors import KdnsError
from kdns.pkg import yamlerror

#: kubeadm's Corefile (kubeadm v1.32+), with ``{domain}`` and ``{upstreams}`` to fill in.
MAIN_BLOCK = """\
.:53 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    prometheus :9153
    forward . {upstreams} {{
        max_concurrent 1000
    }}
    cache 30 {{
        disable success {domain}
        disable denial {domain}
    }}
    loop
    reload
    loadbalance
}}
"""

STUB_BLOCK = """\

{domain}:53 {{
    errors
    cache 30
    forward . {upstreams}
}}
"""

DEFAULT_UPSTREAM = "/etc/resolv.conf"
CLUSTER_DOMAIN = "cluster.local"

USAGE = """\
Usage: kdns migrate-kube-dns [-cluster-domain DOMAIN] CONFIGMAP.yaml

Print the Corefile equivalent to a kube-dns ConfigMap (for example the output of
`kubectl -n kube-system get configmap kube-dns -o yaml`; '-' reads standard input):
stubDomains become server blocks of their own, upstreamNameservers the main block's
forward. Host names and keys kube-dns does not read are left out with a warning on
standard error.

  -cluster-domain string
    \tThe cluster's DNS domain (default "cluster.local")
"""

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$", re.IGNORECASE)


#: The keys of the kube-dns ConfigMap's ``data`` that kube-dns reads.
KEYS = ("stubDomains", "upstreamNameservers", "federations")


class MigrationError(KdnsError):
    """The ConfigMap cannot be translated; the message says which key and why."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason)
        #: The line of the file at fault, when one is known (YAML errors).
        self.line = line


def translate(
    configmap: dict[str, Any], *, cluster_domain: str = CLUSTER_DOMAIN
) -> tuple[str, list[str]]:
    """The Corefile for a kube-dns ConfigMap, and warnings about what was left out.

    :raises MigrationError: for ``federations``, malformed JSON or values that are neither
        addresses nor host names.
    """
    if not isinstance(configmap, dict):
        raise MigrationError("the ConfigMap is not a YAML mapping")
    kind = configmap.get("kind")
    if kind is not None and kind != "ConfigMap":
        raise MigrationError(f"expected a ConfigMap, got kind {kind!r}")
    data = configmap.get("data") or {}
    if not isinstance(data, dict):
        raise MigrationError("data: expected a mapping of keys to strings")
    warnings = [_unknown(key) for key in data if key not in KEYS]
    if str(data.get("federations") or "").strip():
        raise MigrationError(
            "federations: kdns has no federation plugin (CoreDNS retired its own), so this "
            "ConfigMap cannot be translated; remove the federations key to translate the rest"
        )
    domain = _domain("cluster domain", cluster_domain)

    upstreams = [DEFAULT_UPSTREAM]
    raw = _json(data, "upstreamNameservers")
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise MigrationError("upstreamNameservers: expected a JSON list of strings")
        kept = _addresses("upstreamNameservers", raw, warnings)
        if kept:
            upstreams = kept
        elif raw:
            warnings.append(
                f"upstreamNameservers: no IP address left; forwarding to {DEFAULT_UPSTREAM}"
            )
    text = MAIN_BLOCK.format(domain=domain, upstreams=" ".join(upstreams))

    raw = _json(data, "stubDomains")
    if raw is not None:
        if not isinstance(raw, dict) or not all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in raw.values()
        ):
            raise MigrationError(
                'stubDomains: expected a JSON object of lists of strings, {"domain": ["ip"]}'
            )
        stubs: dict[str, str] = {}
        for name in raw:
            stub = _domain(f"stubDomains: {name!r}", name)
            if stub in stubs:
                raise MigrationError(f"stubDomains: {stubs[stub]!r} and {name!r} are one domain")
            if stub == domain:
                warnings.append(
                    f"stubDomains[{name!r}]: the cluster domain itself; its server block takes "
                    "every cluster name away from the kubernetes plugin"
                )
            stubs[stub] = name
        for stub, name in sorted(stubs.items()):
            kept = _addresses(f"stubDomains[{name!r}]", raw[name], warnings)
            if not kept:
                warnings.append(f"stubDomains[{name!r}]: no IP address left; domain left out")
                continue
            text += STUB_BLOCK.format(domain=stub, upstreams=" ".join(kept))
    return text, warnings


def _unknown(key: object) -> str:
    """The warning for a ``data`` key kube-dns does not read (a typo goes unseen otherwise)."""
    close = difflib.get_close_matches(str(key), KEYS, n=1)
    hint = f"did you mean {close[0]}?" if close else "kube-dns reads " + ", ".join(KEYS[:-1])
    if not close:
        hint += f" and {KEYS[-1]}"
    return f"{key}: not a kube-dns key, ignored ({hint})"


def _json(data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MigrationError(f"{key}: expected a JSON string, got {type(value).__name__}")
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise MigrationError(f"{key}: malformed JSON: {err}") from None


def _domain(what: str, name: str) -> str:
    """``name`` lower-cased without a trailing dot, checked to be a DNS name."""
    text = name.strip().lower().rstrip(".")
    if not text or len(text) > 253 or not all(_LABEL.match(label) for label in text.split(".")):
        raise MigrationError(f"{what}: not a valid domain name")
    return text


def _addresses(key: str, values: list[str], warnings: list[str]) -> list[str]:
    """The ``forward`` arguments for ``values``: addresses kept, host names left out."""
    kept = []
    for value in values:
        host, port = _split(key, value)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if _looks_like_an_address(host):
                raise MigrationError(f"{key}: {value!r} is not a valid IP address") from None
            if not _is_hostname(host):
                raise MigrationError(
                    f"{key}: {value!r} is neither an IP address nor a host name"
                ) from None
            warnings.append(
                f"{key}: left out {value!r}: a host name, and forward takes IP addresses only"
            )
            continue
        if port is None:
            kept.append(host)
        elif ":" in host:
            kept.append(f"[{host}]:{port}")
        else:
            kept.append(f"{host}:{port}")
    return kept


def _split(key: str, value: str) -> tuple[str, int | None]:
    """``(host, port)`` for ``host``, ``host:port``, ``IPv6``, ``[IPv6]`` or ``[IPv6]:port``."""
    text = value.strip()
    host, port_text = text, ""
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise MigrationError(f"{key}: {value!r} is not ADDRESS[:PORT]")
        host, port_text = inner, rest[1:] if rest else ""
        if rest and not port_text:
            raise MigrationError(f"{key}: {value!r} has an empty port")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise MigrationError(f"{key}: {value!r} has an empty port")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise MigrationError(
            f"{key}: {value!r}: the port must be a number between 1 and 65535, inclusive"
        )
    return host, int(port_text)


def _looks_like_an_address(text: str) -> bool:
    """True for what can only be meant as an address: no top-level domain is all digits."""
    return ":" in text or text.rstrip(".").rpartition(".")[2].isdigit()


def _is_hostname(text: str) -> bool:
    try:
        _domain("", text)
    except MigrationError:
        return False
    return True


def load(text: str) -> dict[str, Any]:
    """The ConfigMap in YAML (or JSON) ``text``; of several documents, the only ConfigMap."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.MarkedYAMLError as err:
        reason = yamlerror.reason(err)
        raise MigrationError(f"not valid YAML: {reason}", line=yamlerror.line(err, text)) from None
    except yaml.YAMLError as err:
        raise MigrationError(f"not valid YAML: {' '.join(str(err).split())}") from None
    if len(docs) > 1:
        docs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "ConfigMap"]
    if len(docs) != 1:
        raise MigrationError(f"expected one ConfigMap, found {len(docs)}")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise MigrationError("the ConfigMap is not a YAML mapping")
    return doc


def main(argv: list[str]) -> int:
    """``kdns migrate-kube-dns [-cluster-domain DOMAIN] FILE``: 0, 1 (cannot translate), 2 (usage)."""
    args = list(argv)
    domain = CLUSTER_DOMAIN
    path: str | None = None
    while args:
        arg = args.pop(0)
        name, inline = goflag.split(arg)
        if arg in ("-h", "-help", "--help"):
            print(USAGE, end="")
            return 0
        if arg.startswith("-") and arg != "-" and name == "cluster-domain":
            try:
                domain = goflag.value(name, inline, args)
            except goflag.UsageError as err:
                return _usage(str(err))
        elif arg.startswith("-") and arg != "-":
            return _usage(f"flag provided but not defined: -{name}")
        elif path is None:
            path = arg
        else:
            return _usage(f"unexpected argument: {arg}")
    if path is None:
        return _usage("missing the ConfigMap file")
    try:
        _domain("", domain)
    except MigrationError:
        return _usage(f'invalid value "{domain}" for flag -cluster-domain: not a valid domain name')
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as err:
        print(f"migrate-kube-dns: cannot read {path}: {err.strerror}", file=sys.stderr)
        return 1
    try:
        corefile, warnings = translate(load(text), cluster_domain=domain)
    except MigrationError as err:
        where = "<stdin>" if path == "-" else path
        if err.line is not None:
            where += f":{err.line}"
        print(f"migrate-kube-dns: {where}: {err}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"migrate-kube-dns: warning: {warning}", file=sys.stderr)
    sys.stdout.write(corefile)
    return 0


def _usage(reason: str) -> int:
    print(reason, file=sys.stderr)
    print(USAGE, file=sys.stderr, end="")
    return 2

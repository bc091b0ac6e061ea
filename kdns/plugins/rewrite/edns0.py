"""The ``edns0`` rule: ``local``, ``nsid`` and ``subnet`` options set, replaced, appended or
removed in the request that goes on down the chain.

The client never sees these options: kdns writes its own OPT record in every reply, so
``revert`` is accepted and always holds. The rewritten OPT keeps the client's buffer size (512
for a client without EDNS), where CoreDNS creates one of 4096 bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass

from kdns.pkg import edns
from kdns.plugins.rewrite.matching import BadRule
from kdns.plugins.rewrite.state import State

ACTIONS = ("set", "replace", "append", "unset")
CODE_NSID = 3
CODE_SUBNET = 8

Data = Callable[[State], bytes]


def _ip_bytes(host: str) -> bytes:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).packed
    except ValueError:
        return b""


def _server(state: State) -> tuple[str, int]:
    """The listener's address from its ``dns://HOST:PORT`` label; an empty host (a wildcard
    bind) gives the unspecified address of the client's family."""
    label = state.req.server.partition("://")[2]
    host, _, port = label.rpartition(":")
    host = host.strip("[]") or ("::" if state.req.family == 2 else "0.0.0.0")
    return host, int(port) if port.isdigit() else 0


VARIABLES: dict[str, Data] = {
    "{qname}": lambda s: s.spelled.encode(),
    "{qtype}": lambda s: struct.pack("!H", s.qtype),
    "{client_ip}": lambda s: _ip_bytes(s.req.remote[0]),
    "{client_port}": lambda s: struct.pack("!H", s.req.remote[1]),
    "{protocol}": lambda s: s.req.proto.encode(),
    "{server_ip}": lambda s: _ip_bytes(_server(s)[0]),
    "{server_port}": lambda s: struct.pack("!H", _server(s)[1]),
}


@dataclass(frozen=True, slots=True)
class Edns0Rule:
    mode: str
    action: str
    code: int
    #: The option's data for this query; None for ``unset``.
    data: Data | None
    #: Computed per query (a variable or ECS): ``append`` does nothing when the option is there.
    variable: bool = False

    def apply(self, state: State) -> bool:
        options = read_options(state)
        present = [i for i, (code, _) in enumerate(options) if code == self.code]
        if self.action == "unset":
            if present:
                options[:] = [o for o in options if o[0] != self.code]
            state.edns_changed = True
            return True
        assert self.data is not None
        if self.action == "replace" and not present:
            return False
        if self.action == "append" and present and self.variable:
            return False
        value = self.data(state)
        if self.action == "append" or not present:
            options.append((self.code, value))
        else:
            options[present[0]] = (self.code, value)
        state.edns_changed = True
        return True


def read_options(state: State) -> list[tuple[int, bytes]]:
    """The request's EDNS options, read once (an empty list without OPT)."""
    if state.options is None:
        state.options = edns.parse_options(edns.opt_rdata(state.req))
    return state.options


def parse(mode: str, args: list[str]) -> Edns0Rule:
    """``edns0 local|nsid|subnet set|replace|append|unset ARGS... [revert]``"""
    if len(args) < 2:
        raise BadRule("edns0: want local, nsid or subnet, then set, replace, append or unset")
    kind, action = args[0].lower(), args[1].lower()
    rest = args[2:]
    if action not in ACTIONS:
        raise BadRule(f"edns0: invalid action {args[1]!r}, want set, replace, append or unset")
    if rest and rest[-1].lower() == "revert":
        if action == "unset":
            raise BadRule("edns0: revert cannot be used with unset")
        rest = rest[:-1]
    if kind == "local":
        return _local(mode, action, rest)
    if kind == "nsid":
        if rest:
            raise BadRule("edns0 nsid: takes no arguments")
        return Edns0Rule(mode, action, CODE_NSID, None if action == "unset" else _static(b""))
    if kind == "subnet":
        return _subnet(mode, action, rest)
    raise BadRule(f"edns0: invalid type {args[0]!r}, want local, nsid or subnet")


def _static(value: bytes) -> Data:
    return lambda _state: value


def _local(mode: str, action: str, rest: list[str]) -> Edns0Rule:
    if action == "unset":
        if len(rest) != 1:
            raise BadRule("edns0 local unset: 1 argument required (CODE)")
        return Edns0Rule(mode, action, _code(rest[0]), None)
    if len(rest) != 2:
        raise BadRule(f"edns0 local {action}: 2 arguments required (CODE DATA)")
    code, text = _code(rest[0]), rest[1]
    if text.startswith("{") and text.endswith("}"):
        data = VARIABLES.get(text)
        if data is None:
            raise BadRule(
                f"edns0 local: unsupported variable {text!r} (kdns has no metadata plugin); "
                f"want one of {' '.join(VARIABLES)}"
            )
        return Edns0Rule(mode, action, code, data, variable=True)
    if text.startswith("0x"):
        try:
            value = bytes.fromhex(text[2:])
        except ValueError:
            raise BadRule(f"edns0 local: invalid hex data {text!r}") from None
    else:
        value = text.encode()
    return Edns0Rule(mode, action, code, _static(value))


def _code(text: str) -> int:
    try:
        code = int(text, 0)
    except ValueError:
        raise BadRule(f"edns0 local: invalid code {text!r}") from None
    if not 0 <= code <= 0xFFFF:
        raise BadRule(f"edns0 local: code {text!r} out of range")
    return code


def _subnet(mode: str, action: str, rest: list[str]) -> Edns0Rule:
    if action == "unset":
        if rest:
            raise BadRule("edns0 subnet unset: takes no arguments")
        return Edns0Rule(mode, action, CODE_SUBNET, None)
    if len(rest) != 2:
        raise BadRule(f"edns0 subnet {action}: 2 arguments required (V4LEN V6LEN)")
    v4, v6 = (_prefix(text, limit) for text, limit in zip(rest, (32, 128), strict=True))

    def data(state: State) -> bytes:
        return ecs(state.req.remote[0], v4, v6)

    return Edns0Rule(mode, action, CODE_SUBNET, data, variable=True)


def _prefix(text: str, limit: int) -> int:
    if not text.isdigit() or int(text) > limit:
        raise BadRule(f"edns0 subnet: invalid prefix length {text!r} (0-{limit})")
    return int(text)


def ecs(host: str, v4: int, v6: int) -> bytes:
    """An EDNS Client Subnet option's data (RFC 7871) for ``host`` cut to its family's prefix."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    family, bits = (1, v4) if address.version == 4 else (2, v6)
    network = ipaddress.ip_network(f"{address}/{bits}", strict=False)
    return struct.pack("!HBB", family, bits, 0) + network.network_address.packed[: (bits + 7) // 8]

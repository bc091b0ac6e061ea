"""``kdns explain NAME [TYPE] [-conf FILE] [-from NAMESPACE] [-ndots N] [-o text|json]``.

The Corefile is loaded and set up as for serving, and every kubernetes plugin lists its
resources from the API server with the Corefile's credentials (waiting for the first sync), but
no listener is opened and the watches stop once the answer is explained. The query runs through
the server block's chain with every link traced; the reply is printed as dig prints it, then
the trace (block, zone, what each plugin did) and what the answer was built from. With
``-from``, a name with fewer dots than ``-ndots`` is expanded through the search path a pod in
that namespace has, each try shown, and the one the resolver accepts named.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import struct
import sys
from typing import Any

import dns.message
import dns.rdatatype

from kdns import config, corefile, goflag, plugin, wire
from kdns.authority import answers
from kdns.authority.handler import Authority
from kdns.cluster.kubernetes import Synthesizing
from kdns.errors import ConfigError
from kdns.explain import digformat, kubernetes, trace
from kdns.goflag import UsageError
from kdns.request import Request
from kdns.server.zones import Route, ZoneTable

USAGE = """\
Usage: kdns explain NAME [TYPE] [-conf FILE] [-from NAMESPACE] [-ndots N] [-o text|json]
  NAME and TYPE (default A) are the question; -conf the Corefile (default ./Corefile, else the
  embedded example); -from NAMESPACE shows the search path a pod there resolves through
  (-ndots, default 5); -o json prints a document for tools. Exit 0, or 1 on a configuration error.
"""

#: Seconds the kubernetes caches get to list before the explanation goes ahead without them.
SYNC_TIMEOUT = 10.0


@dataclasses.dataclass
class Args:
    name: str = ""
    qtype: str = "A"
    conf: str | None = None
    namespace: str | None = None
    ndots: int = 5
    output: str = "text"
    port: int | None = None


def parse_args(argv: list[str]) -> Args:
    args = Args()
    positional: list[str] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg.startswith("-") and len(arg) > 1:
            flag, inline = goflag.split(arg)
            if flag in ("h", "help"):
                raise UsageError("")
            if flag not in ("conf", "from", "ndots", "o", "dns.port"):
                raise UsageError(f"flag provided but not defined: -{flag}")
            value = goflag.value(flag, inline, rest)
            if flag == "conf":
                args.conf = value
            elif flag == "from":
                args.namespace = value
            elif flag == "o":
                if value not in ("text", "json"):
                    raise UsageError(f"-o takes text or json, not {value}")
                args.output = value
            else:
                number = goflag.integer(flag, value)
                if flag == "ndots":
                    args.ndots = number
                else:
                    args.port = number
            continue
        positional.append(arg)
    if not positional or len(positional) > 2:
        raise UsageError("want NAME and at most a TYPE")
    args.name = positional[0] if positional[0].endswith(".") else positional[0] + "."
    if len(positional) == 2:
        args.qtype = positional[1].upper()
    try:
        dns.rdatatype.from_text(args.qtype)
    except dns.rdatatype.UnknownRdatatype:
        raise UsageError(f"unknown type {args.qtype}") from None
    return args


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
    except UsageError as err:
        if str(err):
            print(err, file=sys.stderr)
        print(USAGE, file=sys.stderr, end="")
        return 2 if str(err) else 0
    # What plugins log (errors, log) is in the trace already; only a failure of kdns shows.
    logging.basicConfig(level=logging.CRITICAL, format="%(message)s")
    from kdns import cli

    path, port = cli.choose_corefile(cli.Options(conf=args.conf, port=args.port))
    try:
        loaded = config.load(corefile.load(path), default_port=port)
    except FileNotFoundError as err:
        print(f"Corefile {err.filename}: no such file", file=sys.stderr)
        return 1
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    document = asyncio.run(_explain(args, loaded))
    if args.output == "json":
        print(json.dumps(document, indent=2))
    else:
        print(_text(document))
    return 0


@dataclasses.dataclass
class Server:
    config: config.ServerConfig
    handler: plugin.Handler


async def _explain(args: Args, loaded: config.Loaded) -> dict[str, Any]:
    tracer = trace.Trace()
    servers = [Server(s, trace.build(s.factories, tracer)) for s in loaded.servers]
    port = servers[0].config.port if servers else config.DEFAULT_PORT
    routes = [
        Route(zone, srv.handler, f"{srv.config.scheme}://:{srv.config.port}")
        for srv in servers
        if srv.config.port == port
        for zone in srv.config.zones
    ]
    table = ZoneTable(routes)
    by_handler = {id(s.handler): s for s in servers}
    controllers = loaded.hooks.sources
    try:
        for ctl in controllers:
            await ctl.start()
        synced = [await ctl.wait_ready(SYNC_TIMEOUT) for ctl in controllers]
        qtype = dns.rdatatype.from_text(args.qtype)
        document: dict[str, Any] = {"question": {"name": args.name, "type": args.qtype}}
        if controllers and not all(synced):
            document["warning"] = "the kubernetes cache did not sync: cluster answers are SERVFAIL"
        names = _search(args, servers) if args.namespace else [args.name]
        tries = []
        for name in names:
            tries.append(await _ask(name, qtype, table, tracer, by_handler))
        document["tries"] = tries
        if args.namespace:
            accepted = next(
                (t["name"] for t in tries if t["rcode"] == "NOERROR" and t["answers"]), None
            )
            document["search"] = {"from": args.namespace, "ndots": args.ndots, "accepted": accepted}
        return document
    finally:
        for ctl in controllers:
            with contextlib.suppress(Exception):
                await ctl.stop()


def _search(args: Args, servers: list[Server]) -> list[str]:
    """The names a pod in ``args.namespace`` with ndots ``args.ndots`` asks, in order."""
    zone = "cluster.local."
    for srv in servers:
        for link in plugin_links(srv.handler):
            if getattr(link, "name", "") == "kubernetes" and isinstance(link, Synthesizing):
                zone = link.synth.settings.primary
    bare = args.name.rstrip(".")
    search = [f"{args.namespace}.svc.{zone}", f"svc.{zone}", zone]
    expanded = [f"{bare}.{suffix}" for suffix in search]
    if bare.count(".") < args.ndots:
        return [*expanded, args.name]
    return [args.name, *expanded]


def plugin_links(handler: object) -> list[object]:
    out: list[object] = []
    while handler is not None and len(out) < 128:
        out.append(handler)
        handler = getattr(handler, "next", None)
    return out


async def _ask(
    name: str,
    qtype: int,
    table: ZoneTable,
    tracer: trace.Trace,
    by_handler: dict[int, Server],
) -> dict[str, Any]:
    data = struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0) + wire.text_to_name(name)
    data += struct.pack("!HH", qtype, wire.CLASS_IN)
    req = Request(data, "udp", ("127.0.0.1", 0))
    tracer.steps = []
    out: dict[str, Any] = {"name": name}
    route = table.match(req.key)
    if route is None:
        reply = req.reply_error(wire.REFUSED)
        out["block"] = None
    else:
        req.zone = route.zone
        req.server = route.server
        req.table = table
        srv = by_handler[id(route.handler)]
        block = srv.config.block
        out["block"] = {"zone": route.zone, "file": block.file, "line": block.line}
        answer = await plugin.resolve(route.handler.serve(req))
        reply = b"" if answer is wire.DROP else wire.finalize(req, answer, wire.MAX_MESSAGE)
    out["trace"] = [dataclasses.asdict(step) for step in tracer.steps]
    out["built_from"] = _built_from(route, req)
    if not reply:
        out.update(rcode="no reply", answers=0, reply="")
        return out
    message = dns.message.from_wire(reply)
    out["rcode"] = dns.rcode.to_text(message.rcode())
    out["answers"] = sum(len(r) for r in message.answer)
    out["reply"] = digformat.render(message)
    return out


def _built_from(route: Route | None, req: Request) -> list[str]:
    if route is None:
        return ["no server block serves this name: REFUSED"]
    out: list[str] = []
    for link in plugin_links(route.handler):
        inner = getattr(link, "inner", link)
        name = getattr(inner, "name", "")
        if name == "kubernetes" and isinstance(inner, Synthesizing):
            out += kubernetes.explain(inner, req.name)
        elif name in ("records", "file") and isinstance(inner, Authority):
            out += _zone_data(inner.table, req)
    return out


def _zone_data(table: answers.Table, req: Request) -> list[str]:
    qname = req.key[:-4]
    zone = table.index.zone_of(qname)
    if zone is None:
        return []
    node = zone.nodes.get(qname)
    if node is None:
        return [f"{req.name} is not in zone {zone.name} ({zone.file})"]
    rrset = node.get(req.qtype)
    if rrset is None:
        types = (
            ", ".join(dns.rdatatype.RdataType.to_text(t) for t in node)
            or "none (an empty non-terminal)"
        )
        return [
            f"{req.name} in zone {zone.name} ({zone.file}) has no {dns.rdatatype.RdataType.to_text(req.qtype)}; it has {types}"
        ]
    where = f"{zone.file}:{rrset.line}" if rrset.line else zone.file
    return [f"{req.name} {dns.rdatatype.RdataType.to_text(req.qtype)} from {where}"]


def _text(document: dict[str, Any]) -> str:
    lines: list[str] = []
    if "warning" in document:
        lines.append(f";; WARNING: {document['warning']}")
    search = document.get("search")
    for attempt in document["tries"]:
        q = document["question"]
        lines.append(f"; <<>> kdns explain <<>> {attempt['name']} {q['type']}")
        lines.append(attempt["reply"] or ";; no reply (dropped)")
        lines.append("")
        block = attempt["block"]
        if block is None:
            lines.append(";; no server block serves this name")
        else:
            lines.append(f";; server block {block['file']}:{block['line']}, zone {block['zone']}")
        for step in attempt["trace"]:
            if step["plugin"] == "no next plugin":
                lines.append(";;   (end of chain: no next plugin found)")
                continue
            detail = f" {step['detail']}" if step["detail"] else ""
            rcode = (
                f" {step['rcode']}"
                if step["action"] in ("answered", "served from cache", "error")
                else ""
            )
            lines.append(f";;   {step['plugin']:<13} {step['action']}{rcode}{detail}")
        if attempt["built_from"]:
            lines.append(";; built from:")
            lines += [f";;   {fact}" for fact in attempt["built_from"]]
        lines.append("")
    if search is not None:
        accepted = search["accepted"]
        lines.append(
            f";; a pod in namespace {search['from']} (ndots:{search['ndots']}) asks "
            f"{len(document['tries'])} names; "
            + (f"the resolver accepts {accepted}" if accepted else "none has an answer")
        )
    return "\n".join(lines).rstrip()

"""A name whose escaped dot only looks like a search domain suffix is not expanded.

``web\\.default.svc.cluster.local.`` has the labels "web.default", svc, cluster, local: it is
not below the first search domain ``default.svc.cluster.local.``, so autopath passes it on as
asked (CoreDNS compares names with ``dns.IsSubDomain``, label by label).
"""

from __future__ import annotations

import struct

from kdns import plugin, wire
from kdns.plugins.autopath.handler import Autopath
from kdns.request import Request
from tests.support.yamlzones import NextHandler

SEARCH = ["default.svc.cluster.local.", "svc.cluster.local.", "cluster.local."]


async def ask(name: str) -> list[str]:
    """The names the next plugin is asked when a client asks ``name``."""
    data = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    data += wire.text_to_name(name) + struct.pack("!HH", 1, wire.CLASS_IN)
    recorder = NextHandler()
    handler = Autopath(recorder, zones=("cluster.local.",), search=lambda _req: list(SEARCH))
    await plugin.resolve(handler.serve(Request(data, "udp", ("127.0.0.1", 5300))))
    return recorder.seen


async def test_a_name_below_the_first_domain_walks_the_search_path() -> None:
    assert await ask("web.default.svc.cluster.local.") == [
        "web.default.svc.cluster.local.",
        "web.svc.cluster.local.",
        "web.cluster.local.",
    ]


async def test_an_escaped_dot_is_no_search_domain_boundary() -> None:
    assert await ask("web\\.default.svc.cluster.local.") == ["web\\.default.svc.cluster.local."]

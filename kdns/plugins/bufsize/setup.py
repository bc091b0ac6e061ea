from __future__ import annotations

from kdns import config, corefile, wire
from kdns.plugins.bufsize.handler import Bufsize

DEFAULT_SIZE = wire.MAX_UDP_REPLY
#: CoreDNS's bounds: below 512 is RFC 6891's floor, above 4096 invites fragmentation.
MIN_SIZE = 512
MAX_SIZE = 4096


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    args = d.expect_args(0, 1)
    if d.block:
        raise d.arg_error()
    size = DEFAULT_SIZE
    if args:
        text = args[0]
        if not text.isdigit() or not MIN_SIZE <= int(text) <= MAX_SIZE:
            raise d.error(f"bufsize must be an integer from {MIN_SIZE} to {MAX_SIZE}: '{text}'")
        size = int(text)
    c.add_plugin(lambda next: Bufsize(next, size=size))

from __future__ import annotations

import socket

from kdns import config, corefile
from kdns.plugins.nsid.handler import Nsid

#: EDNS option data is at most 65,535 bytes, and a reply must still fit in 512.
MAX_DATA = 256


def default_data() -> str:
    """The host name, or "localhost" when it cannot be read (as CoreDNS)."""
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


def setup(d: corefile.Directive, c: config.Controller) -> None:
    c.once_per_block()
    if d.block:
        raise d.arg_error()
    data = " ".join(d.args) if d.args else default_data()
    if len(data.encode("utf-8")) > MAX_DATA:
        raise d.error(f"NSID data longer than {MAX_DATA} bytes")
    c.add_plugin(lambda next: Nsid(next, data=data))

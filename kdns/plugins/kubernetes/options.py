"""What a ``kubernetes`` directive says: cache options and synthesis settings (parsed by
``setup.parse``)."""

from __future__ import annotations

import dataclasses

from kdns.cluster import kubernetes as cluster
from kdns.kube import controller as kcontroller
from kdns.pkg import fall

#: CoreDNS waits this long at startup for the first sync, then serves anyway.
STARTUP_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """Everything the directive says, parsed: what to watch, how to answer, when to pass on."""

    kube: kcontroller.KubeOptions
    settings: cluster.Settings
    fallthrough: fall.Fall
    #: Seconds startup waits for the first sync before serving anyway.
    startup_timeout: float

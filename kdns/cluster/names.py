"""Split a cluster name into what it asks for, as CoreDNS's ``parseRequest`` does.

Relative to a served zone, the labels are read right to left::

    [_port._proto.]service.namespace.svc     [endpoint.]service.namespace.svc
    [x.]pod.namespace.pod                    (apex)  svc  pod  namespace.svc

One leading underscore is stripped from the port and protocol labels, not
required (``http.tcp.web.ns.svc`` works as ``_http._tcp.web.ns.svc``).
"""

from __future__ import annotations

from dataclasses import dataclass

SVC = "svc"
POD = "pod"


class InvalidName(ValueError):
    """The name cannot exist in a cluster zone (NXDOMAIN)."""


@dataclass(frozen=True, slots=True)
class RecordRequest:
    #: "svc", "pod", or "" for the apex and the bare ``svc``/``pod`` labels.
    kind: str = ""
    namespace: str = ""
    #: The service name (or pod name for ``kind == "pod"``).
    service: str = ""
    endpoint: str = ""
    port: str = ""
    protocol: str = ""


def _strip(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def parse(labels: list[str]) -> RecordRequest:
    """``labels`` relative to the zone, lower-case. Raises ``InvalidName``."""
    if not labels or labels == [SVC] or labels == [POD]:
        return RecordRequest()
    kind = labels[-1]
    if kind not in (SVC, POD):
        raise InvalidName(kind)
    rest = labels[:-1]
    if len(rest) == 1:
        return RecordRequest(kind=kind, namespace=rest[0])
    if len(rest) == 2:
        return RecordRequest(kind=kind, namespace=rest[1], service=rest[0])
    if len(rest) == 3:
        return RecordRequest(kind=kind, namespace=rest[2], service=rest[1], endpoint=rest[0])
    if len(rest) == 4:
        return RecordRequest(
            kind=kind,
            namespace=rest[3],
            service=rest[2],
            port=_strip(rest[0]),
            protocol=_strip(rest[1]),
        )
    raise InvalidName(".".join(labels))

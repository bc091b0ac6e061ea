"""Raw API JSON as TypedDicts, and the slim immutable objects the cache keeps.

Memory is the limit of a cluster DNS server: CoreDNS was OOM-killed at 8k services and 75k
backends until it stored only what DNS needs (kubernetes/kubernetes#68613, coredns/coredns#2095).
The slim types below are therefore frozen, slotted and small; strings that repeat across
thousands of objects (namespaces, protocols, address types, port names) are interned so that
all objects share one copy.

Do not add fields to these types unless a DNS answer needs them; every field costs memory times
the number of objects in the largest clusters. The converters read only the fields they keep,
and the raw dict is dropped as soon as it is converted.

The store compares slim objects with ``==`` to decide whether an update is DNS-relevant, so no
field may hold data that changes without changing DNS answers (no resourceVersion, no
timestamps).
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from typing import Literal, TypedDict

# --- raw API JSON ---------------------------------------------------------------------------


class RawMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    creationTimestamp: str | None
    deletionTimestamp: str | None
    labels: dict[str, str]
    annotations: dict[str, str]


class RawObject(TypedDict, total=False):
    """Any API object: only ``metadata`` is common to all kinds."""

    kind: str
    apiVersion: str
    metadata: RawMeta


class RawServicePort(TypedDict, total=False):
    name: str
    protocol: str
    port: int
    targetPort: int | str
    nodePort: int


class RawServiceSpec(TypedDict, total=False):
    type: str
    clusterIP: str
    clusterIPs: list[str]
    ipFamilies: list[str]
    ipFamilyPolicy: str
    externalName: str
    externalIPs: list[str]
    ports: list[RawServicePort]
    selector: dict[str, str]
    publishNotReadyAddresses: bool


class RawLoadBalancerIngress(TypedDict, total=False):
    ip: str
    hostname: str


class RawLoadBalancerStatus(TypedDict, total=False):
    ingress: list[RawLoadBalancerIngress]


class RawServiceStatus(TypedDict, total=False):
    loadBalancer: RawLoadBalancerStatus


class RawService(RawObject, total=False):
    spec: RawServiceSpec
    status: RawServiceStatus


class RawEndpointConditions(TypedDict, total=False):
    ready: bool | None
    serving: bool | None
    terminating: bool | None


class RawObjectReference(TypedDict, total=False):
    kind: str
    namespace: str
    name: str
    uid: str


class RawEndpoint(TypedDict, total=False):
    addresses: list[str]
    conditions: RawEndpointConditions
    hostname: str
    targetRef: RawObjectReference
    nodeName: str
    zone: str


class RawEndpointPort(TypedDict, total=False):
    name: str | None
    protocol: str | None
    port: int | None
    appProtocol: str


class RawEndpointSlice(RawObject, total=False):
    addressType: str
    endpoints: list[RawEndpoint] | None
    ports: list[RawEndpointPort] | None


class RawPodStatus(TypedDict, total=False):
    phase: str
    podIP: str
    podIPs: list[dict[str, str]]


class RawPod(RawObject, total=False):
    spec: dict[str, object]
    status: RawPodStatus


class RawNamespace(RawObject, total=False):
    spec: dict[str, object]
    status: dict[str, object]


class RawList(TypedDict, total=False):
    """A list response; its items carry no kind/apiVersion of their own."""

    kind: str
    apiVersion: str
    metadata: dict[str, str]
    items: list[RawObject]


EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]


class RawEvent(TypedDict):
    """One line of a watch stream."""

    type: EventType
    object: RawObject


# --- slim objects ---------------------------------------------------------------------------

Key = tuple[str, str]
"""(namespace, name) of a namespaced object; ("", name) for a Namespace."""


def _intern(value: str) -> str:
    return sys.intern(value) if value else ""


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Port:
    """A service or endpoint port. ``name`` is ``""`` for an unnamed port."""

    name: str
    protocol: str
    port: int


_PORTS: dict[tuple[str, str, int], Port] = {}


def _port(name: str | None, protocol: str | None, port: int) -> Port:
    # Many services share (name, protocol, port) triples such as ("http", "TCP", 80); keep one
    # Port object per distinct triple. The table is bounded by the cluster's distinct ports.
    triple = (_intern(name or ""), _intern(protocol or "TCP"), port)
    found = _PORTS.get(triple)
    if found is None:
        found = _PORTS.setdefault(triple, Port(*triple))
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    #: ``ClusterIP``, ``NodePort``, ``LoadBalancer`` or ``ExternalName``.
    type: str
    #: ``spec.clusterIPs`` (``spec.clusterIP`` if absent); ``("None",)`` for a headless service,
    #: empty for an ExternalName service.
    cluster_ips: tuple[str, ...]
    #: ``spec.externalName`` for type ExternalName, otherwise ``""``.
    external_name: str
    #: ``spec.ports``; empty when the service has none.
    ports: tuple[Port, ...]
    #: ``spec.externalIPs``, then each load balancer ingress's IP or else its hostname, in
    #: order (what ``k8s_external`` serves).
    external_addresses: tuple[str, ...] = ()

    @property
    def headless(self) -> bool:
        return bool(self.cluster_ips) and self.cluster_ips[0] == "None"

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of a slice: one pod (or other target) with one or more addresses."""

    addresses: tuple[str, ...]
    #: ``conditions.ready``; an unset condition means unknown, which the API says to read as ready.
    ready: bool
    hostname: str
    #: ``targetRef.name`` when the target is a Pod, otherwise ``""``.
    pod_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class EndpointSlice:
    namespace: str
    name: str
    #: The owning service, from the label ``kubernetes.io/service-name`` (``""`` if unlabelled).
    service: str
    #: ``IPv4``, ``IPv6`` or ``FQDN``.
    address_type: str
    endpoints: tuple[Endpoint, ...]
    #: Ports with a number; an entry without one (meaning "all ports") is skipped.
    ports: tuple[Port, ...]

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


@dataclasses.dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    #: ``status.podIP``, the primary IP; ``""`` until one is assigned.
    ip: str
    #: The pod has a ``deletionTimestamp`` (it is terminating).
    deleting: bool

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


@dataclasses.dataclass(frozen=True, slots=True)
class Namespace:
    name: str

    @property
    def key(self) -> Key:
        return ("", self.name)


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def key_of(raw: RawObject) -> Key:
    """The (namespace, name) key of a raw object; namespace is ``""`` for cluster-scoped ones."""
    meta = raw.get("metadata") or {}
    return (_intern(meta.get("namespace") or ""), meta.get("name") or "")


def to_service(raw: RawService) -> Service:
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    external = (spec.get("externalName") or "") if svc_type == "ExternalName" else ""
    ports = tuple(
        _port(p.get("name"), p.get("protocol"), port)
        for p in spec.get("ports") or ()
        if (port := p.get("port")) is not None
    )
    ingress = ((raw.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    outside = [
        *(spec.get("externalIPs") or ()),
        *(i.get("ip") or i.get("hostname") for i in ingress),
    ]
    return Service(
        namespace=_intern(meta.get("namespace") or ""),
        name=meta.get("name") or "",
        type=_intern(svc_type),
        cluster_ips=tuple(ips),
        external_name=external,
        ports=ports,
        external_addresses=tuple(a for a in outside if isinstance(a, str) and a),
    )


def _to_endpoint(raw: RawEndpoint) -> Endpoint:
    conditions = raw.get("conditions") or {}
    ref = raw.get("targetRef") or {}
    return Endpoint(
        # Anything but strings here is a malformed object; skip it rather than poison lookups.
        addresses=tuple(a for a in raw.get("addresses") or () if isinstance(a, str)),
        ready=conditions.get("ready") is not False,
        hostname=raw.get("hostname") or "",
        pod_name=(ref.get("name") or "") if ref.get("kind") == "Pod" else "",
    )


def to_endpoint_slice(raw: RawEndpointSlice) -> EndpointSlice:
    meta = raw.get("metadata") or {}
    labels = meta.get("labels") or {}
    return EndpointSlice(
        namespace=_intern(meta.get("namespace") or ""),
        name=meta.get("name") or "",
        service=_intern(labels.get(SERVICE_NAME_LABEL) or ""),
        address_type=_intern(raw.get("addressType") or ""),
        endpoints=tuple(_to_endpoint(e) for e in raw.get("endpoints") or ()),
        ports=tuple(
            _port(p.get("name"), p.get("protocol"), port)
            for p in raw.get("ports") or ()
            if (port := p.get("port")) is not None
        ),
    )


def to_pod(raw: RawPod) -> Pod:
    meta = raw.get("metadata") or {}
    status = raw.get("status") or {}
    return Pod(
        namespace=_intern(meta.get("namespace") or ""),
        name=meta.get("name") or "",
        ip=status.get("podIP") or "",
        deleting=bool(meta.get("deletionTimestamp")),
    )


def to_namespace(raw: RawNamespace) -> Namespace:
    meta = raw.get("metadata") or {}
    return Namespace(name=_intern(meta.get("name") or ""))


TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


def trigger_time(raw: RawObject) -> float | None:
    """The slice's last-change-trigger-time annotation as Unix time, or None."""
    meta = raw.get("metadata") or {}
    text = (meta.get("annotations") or {}).get(TRIGGER_TIME_ANNOTATION)
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

"""The in-memory cache the DNS layer reads: slim objects, indexes, readiness, change records.

The watch layer writes through :meth:`Store.sink`, one :class:`Sink` per watched kind; the
record layer reads through the lookups (``service``, ``endpoints``, ``services_by_ip`` ...) and
learns what to invalidate from :meth:`Store.subscribe`. Everything runs on the event loop thread,
so there are no locks; lookups return tuples (snapshots), never live views.

Rules taken from CoreDNS (SPEC-NOTES 2.1):

* EndpointSlices are joined to their service by the label ``kubernetes.io/service-name``;
  all slices of a service are merged and addresses deduplicated across them.
* A pod with a ``deletionTimestamp`` is never added; an entry already cached is kept until the
  pod is deleted. Several pods may share an IP for a while (IP reuse across namespaces), so the
  IP index holds every pod with that IP.
* With a ``namespaces`` filter, services, slices and namespaces outside it are dropped on
  ingest (they would only cost memory); pods are kept from every namespace because autopath
  needs the client's namespace even when it is not exposed (coredns/coredns#1232).
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Literal, Protocol, TypeVar, cast

from kdns.kube import objects

logger = logging.getLogger("kdns.plugin.kubernetes")

Kind = Literal["services", "endpointslices", "namespaces", "pods"]
KINDS: tuple[Kind, ...] = ("services", "endpointslices", "namespaces", "pods")


def as_kind(name: str) -> Kind:
    """Check that ``name`` (a resource plural) is a kind the store holds."""
    for kind in KINDS:
        if kind == name:
            return kind
    raise ValueError(f"the store holds no {name!r}")


ServiceChange = tuple[Literal["service"], str, str]
"""("service", namespace, name): the Service or any of its EndpointSlices changed."""
PodChange = tuple[Literal["pod"], str, str]
"""("pod", namespace, ip): the set of pods with this IP in this namespace changed."""
NamespaceChange = tuple[Literal["namespace"], str]
"""("namespace", name): the namespace appeared or disappeared."""
Change = ServiceChange | PodChange | NamespaceChange
Callback = Callable[[Change], None]


@dataclasses.dataclass(frozen=True, slots=True)
class EndpointAddress:
    """One address of a service's merged endpoints."""

    address: str
    #: ``IPv4``, ``IPv6`` or ``FQDN`` (from the slice's ``addressType``).
    address_type: str
    ready: bool
    hostname: str
    pod_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Subset:
    """Addresses that share one port set (slices with equal ports are merged into one subset)."""

    addresses: tuple[EndpointAddress, ...]
    ports: tuple[objects.Port, ...]


class Sink(Protocol):
    """What the watch layer writes into, one per watched kind."""

    def upsert(self, raw: objects.RawObject) -> None:
        """An object was listed, added or modified."""

    def delete(self, raw: objects.RawObject) -> None:
        """An object was deleted (``raw`` is its last state)."""

    def keys(self) -> KeyTracker:
        """The keys cached now; a relist crosses off what it lists and passes the rest to
        :meth:`remove_keys`."""

    def remove_keys(self, keys: Iterable[objects.Key]) -> None:
        """Delete these objects (a relist did not contain them)."""

    def mark_synced(self) -> None:
        """The kind has been listed completely at least once."""


class KeyTracker:
    """The keys cached before a relist, crossed off as the list names them.

    A sorted list of the store's own key tuples plus one byte per key: about 9 bytes per
    object, where a set of keys would cost 50 or more. Lookups are a binary search.
    """

    def __init__(self, keys: Iterable[objects.Key]) -> None:
        self._keys = sorted(keys)
        self._crossed = bytearray(len(self._keys))

    def discard(self, key: objects.Key) -> None:
        i = bisect.bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            self._crossed[i] = 1

    def __iter__(self) -> Iterator[objects.Key]:
        """The keys not crossed off."""
        return (k for k, crossed in zip(self._keys, self._crossed, strict=True) if not crossed)


_T = TypeVar("_T")


def _index_add(index: dict[str, tuple[_T, ...]], key: str, value: _T) -> None:
    index[key] = (*index.get(key, ()), value)


def _index_remove(index: dict[str, tuple[_T, ...]], key: str, value: _T) -> None:
    rest = tuple(v for v in index.get(key, ()) if v is not value)
    if rest:
        index[key] = rest
    else:
        index.pop(key, None)


def _slice_addresses(eps: objects.EndpointSlice) -> set[str]:
    return {a for e in eps.endpoints for a in e.addresses}


class Store:
    """Services, EndpointSlices, Pods and Namespaces, indexed for DNS lookups.

    :param watched: the kinds that must be listed once before :meth:`has_synced` is true.
    :param namespaces: if given, only these namespaces exist (the ``namespaces`` option).
    :param clock: the time source of :attr:`serial`.
    """

    def __init__(
        self,
        *,
        watched: Iterable[Kind] = KINDS,
        namespaces: Collection[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._watched = frozenset(watched)
        self._exposed = frozenset(namespaces) if namespaces else None
        self._clock = clock
        self._synced: set[Kind] = set()
        self._subscribers: list[Callback] = []
        #: Unix time (whole seconds) of the last DNS-relevant change; the SOA serial.
        self.serial = int(clock())

        self._services: dict[objects.Key, objects.Service] = {}
        self._services_by_ip: dict[str, tuple[objects.Service, ...]] = {}
        self._slices: dict[objects.Key, objects.EndpointSlice] = {}
        self._slices_by_service: dict[objects.Key, dict[str, objects.EndpointSlice]] = {}
        self._slices_by_address: dict[str, tuple[objects.EndpointSlice, ...]] = {}
        self._pods: dict[objects.Key, objects.Pod] = {}
        self._pods_by_ip: dict[str, tuple[objects.Pod, ...]] = {}
        self._namespaces: set[str] = set()
        #: Called with (namespace, service, Unix time) when a slice carrying the
        #: ``endpoints.kubernetes.io/last-change-trigger-time`` annotation has been applied.
        self.on_trigger_time: Callable[[str, str, float], None] | None = None

    # --- readiness and notification ----------------------------------------------------------

    @property
    def watched(self) -> frozenset[Kind]:
        return self._watched

    def synced(self, kind: Kind) -> bool:
        """True once ``kind`` has been listed completely (it stays true)."""
        return kind in self._synced

    def has_synced(self) -> bool:
        """True once every watched kind has been listed completely (it stays true)."""
        return self._watched <= self._synced

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(change)`` after every DNS-relevant change; returns an unsubscriber."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _changed(self, change: Change) -> None:
        self.serial = int(self._clock())
        for callback in tuple(self._subscribers):
            try:
                callback(change)
            except Exception:
                logger.exception("plugin/kubernetes: change subscriber failed on %r", change)

    def _exposed_ns(self, namespace: str) -> bool:
        return self._exposed is None or namespace in self._exposed

    # --- lookups -----------------------------------------------------------------------------

    def service(self, namespace: str, name: str) -> objects.Service | None:
        return self._services.get((namespace, name))

    def services(self) -> Iterator[objects.Service]:
        """All cached services (a snapshot taken when called)."""
        return iter(tuple(self._services.values()))

    def services_by_ip(self, ip: str) -> tuple[objects.Service, ...]:
        """Services with ``ip`` among their ClusterIPs (normally at most one)."""
        return self._services_by_ip.get(ip, ())

    def endpoint_slices(self, namespace: str, service: str) -> tuple[objects.EndpointSlice, ...]:
        """The slices of a service, ordered by slice name."""
        by_name = self._slices_by_service.get((namespace, service))
        if not by_name:
            return ()
        return tuple(by_name[name] for name in sorted(by_name))

    def endpoints(self, namespace: str, service: str) -> tuple[Subset, ...]:
        """The service's endpoints, all slices merged, addresses deduplicated.

        Slices with the same port set form one subset. An address listed more than once keeps
        its first occurrence (slices in name order), except that a ready copy wins over a
        not-ready one: during a move between slices the newer copy is the one that is ready.
        Not-ready addresses are included with ``ready=False``; the caller filters.
        """
        groups: dict[tuple[objects.Port, ...], dict[str, EndpointAddress]] = {}
        for eps in self.endpoint_slices(namespace, service):
            addresses = groups.setdefault(tuple(sorted(eps.ports)), {})
            for endpoint in eps.endpoints:
                for address in endpoint.addresses:
                    seen = addresses.get(address)
                    if seen is None or (endpoint.ready and not seen.ready):
                        addresses[address] = EndpointAddress(
                            address=address,
                            address_type=eps.address_type,
                            ready=endpoint.ready,
                            hostname=endpoint.hostname,
                            pod_name=endpoint.pod_name,
                        )
        return tuple(
            Subset(addresses=tuple(addresses.values()), ports=ports)
            for ports, addresses in groups.items()
        )

    def endpoints_by_ip(
        self, ip: str
    ) -> tuple[tuple[objects.EndpointSlice, objects.Endpoint], ...]:
        """(slice, endpoint) pairs whose endpoint has address ``ip``, ready or not.

        An endpoint repeated in several slices of the same service is reported once.
        """
        found: list[tuple[objects.EndpointSlice, objects.Endpoint]] = []
        seen: set[tuple[str, str, str, str]] = set()
        for eps in self._slices_by_address.get(ip, ()):
            for endpoint in eps.endpoints:
                if ip not in endpoint.addresses:
                    continue
                ident = (eps.namespace, eps.service, endpoint.hostname, endpoint.pod_name)
                if ident not in seen:
                    seen.add(ident)
                    found.append((eps, endpoint))
        return tuple(found)

    def pods_by_ip(self, ip: str) -> tuple[objects.Pod, ...]:
        """Pods whose primary IP is ``ip``, from every namespace, oldest entry first."""
        return self._pods_by_ip.get(ip, ())

    def pod(self, namespace: str, name: str) -> objects.Pod | None:
        return self._pods.get((namespace, name))

    def namespace_exists(self, namespace: str) -> bool:
        """The Namespace object is cached (it passed ``namespace_labels``) and is exposed."""
        return namespace in self._namespaces

    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted(self._namespaces))

    def counts(self) -> dict[Kind, int]:
        """How many objects of each kind are cached (for logs and metrics)."""
        return {
            "services": len(self._services),
            "endpointslices": len(self._slices),
            "namespaces": len(self._namespaces),
            "pods": len(self._pods),
        }

    # --- ingest ------------------------------------------------------------------------------

    def sink(self, kind: Kind) -> Sink:
        """The writer for one kind, used by the watch layer."""
        return _KindSink(self, kind)

    def _mark_synced(self, kind: Kind) -> None:
        self._synced.add(kind)

    def put_service(self, svc: objects.Service) -> None:
        if not self._exposed_ns(svc.namespace):
            return
        old = self._services.get(svc.key)
        if old == svc:
            return
        if old is not None:
            for ip in old.cluster_ips:
                _index_remove(self._services_by_ip, ip, old)
        self._services[svc.key] = svc
        for ip in svc.cluster_ips:
            if ip and ip != "None":
                _index_add(self._services_by_ip, ip, svc)
        self._changed(("service", svc.namespace, svc.name))

    def remove_service(self, key: objects.Key) -> None:
        old = self._services.pop(key, None)
        if old is None:
            return
        for ip in old.cluster_ips:
            _index_remove(self._services_by_ip, ip, old)
        self._changed(("service", old.namespace, old.name))

    def put_endpoint_slice(self, eps: objects.EndpointSlice) -> None:
        if not eps.service or not self._exposed_ns(eps.namespace):
            # A slice without the service-name label belongs to no service DNS can name.
            self.remove_endpoint_slice(eps.key)
            return
        old = self._slices.get(eps.key)
        if old == eps:
            return
        if old is not None:
            self._unindex_slice(old)
        self._slices[eps.key] = eps
        self._slices_by_service.setdefault((eps.namespace, eps.service), {})[eps.name] = eps
        for address in _slice_addresses(eps):
            _index_add(self._slices_by_address, address, eps)
        if old is not None and old.service != eps.service:
            self._changed(("service", old.namespace, old.service))
        self._changed(("service", eps.namespace, eps.service))

    def remove_endpoint_slice(self, key: objects.Key) -> None:
        old = self._slices.pop(key, None)
        if old is None:
            return
        self._unindex_slice(old)
        self._changed(("service", old.namespace, old.service))

    def _unindex_slice(self, old: objects.EndpointSlice) -> None:
        svc_key = (old.namespace, old.service)
        by_name = self._slices_by_service.get(svc_key)
        if by_name is not None and by_name.get(old.name) is old:
            del by_name[old.name]
            if not by_name:
                del self._slices_by_service[svc_key]
        for address in _slice_addresses(old):
            _index_remove(self._slices_by_address, address, old)

    def put_pod(self, pod: objects.Pod) -> None:
        old = self._pods.get(pod.key)
        if pod.deleting:
            # CoreDNS (1.12.1+) never adds a terminating pod and keeps a cached entry until the
            # pod is deleted, so the name keeps resolving during graceful termination.
            return
        if old == pod:
            return
        if old is not None and old.ip:
            _index_remove(self._pods_by_ip, old.ip, old)
        self._pods[pod.key] = pod
        if pod.ip:
            _index_add(self._pods_by_ip, pod.ip, pod)
        if old is not None and old.ip and old.ip != pod.ip:
            self._changed(("pod", old.namespace, old.ip))
        if pod.ip and (old is None or old.ip != pod.ip):
            self._changed(("pod", pod.namespace, pod.ip))

    def remove_pod(self, key: objects.Key) -> None:
        old = self._pods.pop(key, None)
        if old is None:
            return
        if old.ip:
            _index_remove(self._pods_by_ip, old.ip, old)
            self._changed(("pod", old.namespace, old.ip))

    def put_namespace(self, ns: objects.Namespace) -> None:
        if ns.name in self._namespaces or not self._exposed_ns(ns.name):
            return
        self._namespaces.add(ns.name)
        self._changed(("namespace", ns.name))

    def remove_namespace(self, name: str) -> None:
        if name in self._namespaces:
            self._namespaces.discard(name)
            self._changed(("namespace", name))


class _KindSink:
    """Routes raw objects of one kind to the store's typed put/remove methods."""

    def __init__(self, store: Store, kind: Kind) -> None:
        self._store = store
        self._kind = kind

    def upsert(self, raw: objects.RawObject) -> None:
        store = self._store
        if self._kind == "services":
            store.put_service(objects.to_service(cast(objects.RawService, raw)))
        elif self._kind == "endpointslices":
            eps = objects.to_endpoint_slice(cast(objects.RawEndpointSlice, raw))
            store.put_endpoint_slice(eps)
            if store.on_trigger_time is not None:
                trigger = objects.trigger_time(raw)
                if trigger is not None:
                    store.on_trigger_time(eps.namespace, eps.service, trigger)
        elif self._kind == "pods":
            store.put_pod(objects.to_pod(cast(objects.RawPod, raw)))
        else:
            store.put_namespace(objects.to_namespace(cast(objects.RawNamespace, raw)))

    def delete(self, raw: objects.RawObject) -> None:
        self._remove(objects.key_of(raw))

    def _remove(self, key: objects.Key) -> None:
        store = self._store
        if self._kind == "services":
            store.remove_service(key)
        elif self._kind == "endpointslices":
            store.remove_endpoint_slice(key)
        elif self._kind == "pods":
            store.remove_pod(key)
        else:
            store.remove_namespace(key[1])

    def keys(self) -> KeyTracker:
        store = self._store
        if self._kind == "services":
            return KeyTracker(store._services)
        if self._kind == "endpointslices":
            return KeyTracker(store._slices)
        if self._kind == "pods":
            return KeyTracker(store._pods)
        return KeyTracker(("", name) for name in store._namespaces)

    def remove_keys(self, keys: Iterable[objects.Key]) -> None:
        for key in list(keys):
            self._remove(key)

    def mark_synced(self) -> None:
        self._store._mark_synced(self._kind)

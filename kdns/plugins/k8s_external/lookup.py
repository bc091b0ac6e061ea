"""What a name under an external zone holds: CoreDNS's k8s_external, read from the kubernetes
plugin's watch cache.

Names are read from the right below the zone: ``NS`` (a namespace), ``SVC.NS``, ``EP.SVC.NS``
and ``_PORT._PROTO.SVC.NS``. A Service's external addresses are its ``spec.externalIPs`` and its
load balancers' ingress IPs or hostnames; with ``headless``, a Service without any is served by
its ready endpoints instead. Under ``APEX.ZONE`` live the nameserver names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kdns.cluster import kubernetes as cluster
from kdns.kube import objects, store

A = 1
NS = 2
PTR = 12
AAAA = 28
SRV = 33


@dataclass(frozen=True, slots=True)
class Target:
    """One address or hostname a name yields, with the endpoint name for headless SRV."""

    address: str
    #: The endpoint's name (headless only): SRV targets are ``ENDPOINT.SVC.NS.ZONE``.
    endpoint: str = ""

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            return False
        return True

    @property
    def family(self) -> int:
        return AAAA if ":" in self.address else A


@dataclass(frozen=True, slots=True)
class Found:
    """A Service name that exists: the targets, and the ports SRV answers carry."""

    namespace: str
    service: str
    targets: tuple[Target, ...]
    ports: tuple[objects.Port, ...]


class Lookup:
    def __init__(self, cache: store.Store, settings: cluster.Settings, *, headless: bool) -> None:
        self.store = cache
        self.settings = settings
        self.headless = headless

    def namespace_exposed(self, namespace: str) -> bool:
        return self.store.namespace_exists(namespace)

    def find(self, labels: list[str]) -> Found | None:
        """``labels`` below the zone, leftmost first; None when the name does not exist."""
        if len(labels) == 2:
            return self._service(labels[1], labels[0], endpoint=None, port=None)
        if len(labels) == 3:
            return self._service(labels[2], labels[1], endpoint=labels[0], port=None)
        if len(labels) == 4 and labels[0].startswith("_") and labels[1].startswith("_"):
            port = (labels[0][1:], labels[1][1:])
            return self._service(labels[3], labels[2], endpoint=None, port=port)
        return None

    def _service(
        self, namespace: str, name: str, *, endpoint: str | None, port: tuple[str, str] | None
    ) -> Found | None:
        if not self.namespace_exposed(namespace):
            return None
        svc = self.store.service(namespace, name)
        if svc is None:
            return None
        ports = svc.ports
        if port is not None:
            ports = tuple(
                p
                for p in ports
                if p.name.lower() == port[0].lower() and p.protocol.lower() == port[1].lower()
            )
            if not ports:
                return None
        if svc.external_addresses:
            targets = tuple(Target(a) for a in svc.external_addresses)
        elif self.headless and (svc.headless or endpoint is not None):
            targets = self._endpoints(svc, endpoint)
        else:
            return None
        if not targets:
            return None
        return Found(namespace, name, targets, ports)

    def _endpoints(self, svc: objects.Service, endpoint: str | None) -> tuple[Target, ...]:
        out: list[Target] = []
        for subset in self.store.endpoints(svc.namespace, svc.name):
            for address in subset.addresses:
                if not address.ready:
                    continue
                label = self._endpoint_name(address)
                if endpoint is None or label == endpoint:
                    out.append(Target(address.address, label))
        return tuple(dict.fromkeys(out))

    def _endpoint_name(self, address: store.EndpointAddress) -> str:
        if address.hostname:
            return address.hostname
        if self.settings.endpoint_pod_names and address.pod_name and len(address.pod_name) < 64:
            return address.pod_name
        return cluster.dashed(address.address)

    def services_with(self, address: str) -> list[objects.Service]:
        """Services whose external addresses include ``address`` (PTR), in exposed namespaces."""
        return [
            svc
            for svc in self.store.services()
            if address in svc.external_addresses and self.namespace_exposed(svc.namespace)
        ]

    def nameserver_addresses(self) -> tuple[str, ...]:
        """Addresses of ``ns1.APEX.ZONE``: the external addresses of the Service kdns itself
        backs, found by its own addresses among endpoints; else those local addresses."""
        local = self.settings.local_addresses
        for ip in local:
            for eps, _endpoint in self.store.endpoints_by_ip(ip):
                svc = self.store.service(eps.namespace, eps.service)
                if svc is not None and svc.external_addresses:
                    return tuple(a for a in svc.external_addresses if _is_ip(a))
        return local


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

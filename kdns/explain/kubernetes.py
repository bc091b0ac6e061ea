"""What a cluster name was built from, and why one has no records, in words.

Reads the kubernetes plugin's cache (``Synthesizer.store``) and options the way its answers
do: the name's shape, the namespace (exists, exposed by ``namespaces``, kept by
``namespace_labels``), the Service (type, addresses, ports), its EndpointSlices (each endpoint
ready or not, and its pod), and for pod names the ``pods`` mode.
"""

from __future__ import annotations

from kdns.cluster import kubernetes as cluster
from kdns.cluster import names, reverse
from kdns.kube import objects
from kdns.kube.store import Store
from kdns.pkg import dnsname


def explain(kube: cluster.Synthesizing, qname: str) -> list[str]:
    """Facts and reasons for ``qname`` (lower-case, absolute) from a kubernetes handler."""
    synth = kube.synth
    options = getattr(kube, "options", None)
    store = synth.store
    settings = synth.settings
    zone = dnsname.text_longest(qname, settings.zones)
    if zone is None:
        return [
            f"{qname} is in none of the kubernetes plugin's zones ({', '.join(settings.zones)})"
        ]
    if reverse.is_reverse(zone):
        return _reverse(store, qname)
    labels = dnsname.text_relative(qname, zone)
    try:
        request = names.parse(labels)
    except names.InvalidName:
        return [
            f"{qname} is not a Kubernetes name: below {zone} names are SERVICE.NAMESPACE.svc, "
            "[ENDPOINT.|_PORT._PROTO.]SERVICE.NAMESPACE.svc or POD-IP.NAMESPACE.pod"
        ]
    if not request.kind:
        return [f"{qname} is the zone, or svc/pod below it: no records of its own but SOA/NS"]
    out = _namespace(store, options, request.namespace)
    if request.kind == names.POD:
        return out + _pod(store, settings, request)
    if not request.service:
        return out
    svc = store.service(request.namespace, request.service)
    if svc is None:
        out.append(f"no Service {request.service} in namespace {request.namespace}")
        elsewhere = sorted(s.namespace for s in store.services() if s.name == request.service)
        if elsewhere:
            out.append(f"namespaces with a Service named {request.service}: {', '.join(elsewhere)}")
        return out
    out.append(_describe(svc))
    if svc.type == "ExternalName":
        out.append(
            f"answered with a CNAME to {svc.external_name}; that name is resolved by the server"
        )
        return out
    out += _endpoints(store, settings, svc)
    if request.port or request.protocol:
        ports = [p for p in svc.ports if _port_matches(p, request)]
        if not ports:
            out.append(f"no port named _{request.port}._{request.protocol} on the Service")
    return out


def _namespace(store: Store, options: object, namespace: str) -> list[str]:
    exposed: frozenset[str] = getattr(getattr(options, "kube", None), "namespaces", frozenset())
    if exposed and namespace not in exposed:
        return [f"namespace {namespace} is not exposed (namespaces {' '.join(sorted(exposed))})"]
    if not store.namespace_exists(namespace):
        selector = getattr(getattr(options, "kube", None), "namespace_labels", None)
        why = f" or does not match namespace_labels {selector}" if selector else ""
        return [f"no namespace {namespace} in the cache (it does not exist{why})"]
    return []


def _describe(svc: objects.Service) -> str:
    ports = ", ".join(f"{p.name or '-'}/{p.protocol} {p.port}" for p in svc.ports) or "none"
    kind = "headless" if svc.headless else svc.type
    ips = "" if svc.headless or svc.type == "ExternalName" else f" {', '.join(svc.cluster_ips)}"
    return f"Service {svc.namespace}/{svc.name}: {kind}{ips}, ports {ports}"


def _endpoints(store: Store, settings: cluster.Settings, svc: objects.Service) -> list[str]:
    out = []
    slices = store.endpoint_slices(svc.namespace, svc.name)
    ready = 0
    not_ready: list[str] = []
    for eps in slices:
        out.append(f"EndpointSlice {eps.namespace}/{eps.name} ({eps.address_type})")
        for endpoint in eps.endpoints:
            state = "ready" if endpoint.ready else "not ready"
            pod = f" pod {endpoint.pod_name}" if endpoint.pod_name else ""
            host = f" hostname {endpoint.hostname}" if endpoint.hostname else ""
            out.append(f"  {', '.join(endpoint.addresses)} {state}{pod}{host}")
            if endpoint.ready:
                ready += 1
            else:
                not_ready.append(endpoint.pod_name or ", ".join(endpoint.addresses))
    if not slices:
        out.append("no EndpointSlices for the Service")
    if svc.headless and not ready:
        why = f" (not ready: {', '.join(not_ready)})" if not_ready else ""
        out.append(f"headless Service with no ready endpoints{why}: its names do not exist")
    return out


def _pod(store: Store, settings: cluster.Settings, request: names.RecordRequest) -> list[str]:
    if settings.pods == "disabled":
        return [
            "pod records are disabled (pods disabled; `pods insecure` or `pods verified` enables them)"
        ]
    if settings.pods == "insecure":
        return [
            f"pods insecure: any IP-shaped name in namespace {request.namespace} answers its IP"
        ]
    ip = request.service.replace("-", ":" if request.service.count("-") > 3 else ".")
    pods = [p for p in store.pods_by_ip(ip) if p.namespace == request.namespace]
    if not pods:
        return [f"pods verified: no pod with IP {ip} in namespace {request.namespace}"]
    return [f"Pod {p.namespace}/{p.name} has IP {ip}" for p in pods]


def _reverse(store: Store, qname: str) -> list[str]:
    address = reverse.address(qname)
    if address is None:
        return [f"{qname} is not a complete reverse name of an address"]
    services = store.services_by_ip(address)
    out = [f"{address} is the ClusterIP of Service {s.namespace}/{s.name}" for s in services]
    for eps, _endpoint in store.endpoints_by_ip(address):
        out.append(f"{address} is an endpoint of Service {eps.namespace}/{eps.service}")
    return out or [f"no Service or endpoint has the address {address}"]


def _port_matches(port: objects.Port, r: names.RecordRequest) -> bool:
    return (not r.port or port.name.lower() == r.port) and (
        not r.protocol or port.protocol.lower() == r.protocol
    )

"""Every distribution's default Corefile (../shared/reference/corefiles) starts on kdns and
answers: the cluster's API service, its PTR, an external name through forward, and what that
distribution adds (AKS's NXDOMAIN templates, k3s's NodeHosts, minikube's host record, kOps's
dns64, NodeLocal DNSCache's four blocks, OpenShift's CHAOS block). The substitutions that make a
file runnable on loopback are listed in ``corefiles.py``; nothing else of the file is changed."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.support import apiserver as fa
from tests.support import clients, corefiles, kdnsproc, kube_e2e
from tests.support.upstream import FakeUpstream

FILES = corefiles.files()
CLUSTER_API = "kubernetes.default.svc.cluster.local."
EXTERNAL = "www.example.net."
V4_ONLY = "v4only.example.net."


@pytest.fixture(scope="module")
def api() -> Iterator[kube_e2e.ThreadedAPI]:
    with kube_e2e.api_server() as server:
        server.start()
        server.create(fa.namespace("default"))
        server.create(fa.service("kubernetes", "default", cluster_ips=["10.96.0.1"]))
        server.create(
            fa.endpoint_slice(
                "kubernetes-abc",
                "default",
                service="kubernetes",
                endpoints=[fa.endpoint("192.0.2.100")],
            )
        )
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as up:
        up.answers[(V4_ONLY, "AAAA")] = []
        yield up


def ask(host: str, port: int, name: str, qtype: str, **kw: object) -> dns.message.Message:
    q = dns.message.make_query(name, qtype, **kw)  # type: ignore[arg-type]
    return dns.query.udp(q, host, port=port, timeout=3)


def values(reply: dns.message.Message) -> list[str]:
    return sorted(rr.to_text() for rrset in reply.answer for rr in rrset)


def test_the_matrix_holds_every_reference_file() -> None:
    assert len(FILES) >= 12, f"no reference Corefiles at {corefiles.REFERENCE}"


def _serve(adapted: corefiles.Adapted, workdir: Path) -> kdnsproc.KdnsProcess:
    path = workdir / "Corefile"
    path.write_text(adapted.text)
    proc = kdnsproc.KdnsProcess(["-conf", str(path)], cwd=str(workdir), env=clients.child_env())
    try:
        kdnsproc.wait_serving(adapted.host, adapted.port, proc)
    except BaseException:
        proc.stop(signal.SIGKILL)
        raise
    return proc


def _wait(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.removesuffix(".Corefile"))
def test_the_corefile_starts_and_answers(
    path: Path, api: kube_e2e.ThreadedAPI, upstream: FakeUpstream, tmp_path: Path
) -> None:
    name = path.name.removesuffix(".Corefile")
    (tmp_path / "NodeHosts").write_text("192.0.2.77 node-a\n")
    (tmp_path / "rootfs-hosts").write_text("192.0.2.88 api.minimal-ipv6.example.com\n")
    kubeconfig = api.call(lambda: api.api.write_kubeconfig(tmp_path / "kubeconfig.yaml"))
    adapted = corefiles.adapt(
        corefiles.shipped(path),
        upstream=f"127.0.0.1:{upstream.port}",
        kubeconfig=kubeconfig,
        workdir=tmp_path,
    )
    proc = _serve(adapted, tmp_path)
    host, port = adapted.host, adapted.port
    try:
        has_kubernetes = "kubernetes" in adapted.text
        if has_kubernetes:
            _wait(
                lambda: values(ask(host, port, CLUSTER_API, "A")) == ["10.96.0.1"],
                f"{name}: {CLUSTER_API} never answered from the API server",
            )
            ptr = ask(host, port, "1.0.96.10.in-addr.arpa.", "PTR")
            assert values(ptr) == [CLUSTER_API], name
        else:
            cluster = ask(host, port, CLUSTER_API, "A")
            assert cluster.rcode() == dns.rcode.NOERROR and cluster.answer, name
        if name.startswith("openshift-servers"):
            external = ask(host, port, "www.foo.com.", "A")
        else:
            external = ask(host, port, EXTERNAL, "A")
        assert values(external) == ["192.0.2.1"], (name, external)
        DISTINCTIVE.get(name.split("-1.")[0], lambda *_: None)(adapted, upstream)
        assert "Traceback" not in proc.output, proc.output
    finally:
        proc.stop(signal.SIGKILL)


def _aks(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
    host, port = adapted.host, adapted.port
    assert ask(host, port, "a.b.c.d.internal.cloudapp.net.", "A").rcode() == dns.rcode.NXDOMAIN
    assert ask(host, port, "x.reddog.microsoft.com.", "A").rcode() == dns.rcode.NXDOMAIN
    # Fewer than four labels before the zone: the template falls through to forward.
    assert values(ask(host, port, "vm.internal.cloudapp.net.", "A")) == ["192.0.2.1"]


def _aks_localdns(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
    _aks(adapted, upstream)
    node, pod = "127.0.0.10", "127.0.0.11"
    for host, nsid in ((node, b"localdns"), (pod, b"localdns-pod")):
        reply = ask(
            host, adapted.port, EXTERNAL, "A", use_edns=0, options=[dns.edns.NSIDOption(b"")]
        )
        options = [o for o in reply.options if o.otype == dns.edns.NSID]
        assert options and options[0].nsid == nsid, (host, reply.options)
    whoami = ask(pod, adapted.port, "health-check.localdns.local.", "A")
    assert [rr.to_text() for r in whoami.additional for rr in r][:1] == ["127.0.0.1"]
    # cluster.local goes to the cluster DNS over TCP (force_tcp), from both listeners.
    upstream.reset()
    for host in (node, pod):
        assert ask(host, adapted.port, "svc.cluster.local.", "A").rcode() == dns.rcode.NOERROR
    assert {q.transport for q in upstream.queries} == {"tcp"}


def _hosts(name: str, address: str) -> Callable[[corefiles.Adapted, FakeUpstream], None]:
    def check(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
        assert values(ask(adapted.host, adapted.port, name, "A")) == [address]

    return check


def _kops(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
    reply = ask("::1", adapted.port, V4_ONLY, "AAAA")
    assert values(reply) == ["64:ff9b::c000:201"]


def _kops_dns_none(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
    _kops(adapted, upstream)
    _hosts("api.minimal-ipv6.example.com.", "192.0.2.88")(adapted, upstream)


def _nodelocaldns(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
    for host in ("127.0.0.20", "127.0.0.21"):
        for qname, qtype in (
            (CLUSTER_API, "A"),
            ("1.0.96.10.in-addr.arpa.", "PTR"),
            ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "PTR"),
            (EXTERNAL, "A"),
        ):
            assert ask(host, adapted.port, qname, qtype).rcode() == dns.rcode.NOERROR


def _openshift(adapted: corefiles.Adapted, upstream: FakeUpstream) -> None:
    chaos = ask(adapted.host, adapted.port, "hostname.bind.", "TXT", rdclass="CH")
    assert chaos.rcode() == dns.rcode.NOERROR and chaos.answer
    big = ask(adapted.host, adapted.port, EXTERNAL, "A", use_edns=0, payload=4096)
    assert big.payload == 1232, "bufsize 1232 caps what the reply advertises"


DISTINCTIVE: dict[str, Callable[[corefiles.Adapted, FakeUpstream], None]] = {
    "aks": _aks,
    "aks-localdns": _aks_localdns,
    "k3s": _hosts("node-a.", "192.0.2.77"),
    "k3s-pre-2025-09": _hosts("node-a.", "192.0.2.77"),
    "minikube": _hosts("host.minikube.internal.", "192.168.49.1"),
    "kops-ipv6": _kops,
    "kops-ipv6-dns-none": _kops_dns_none,
    "nodelocaldns": _nodelocaldns,
    "openshift": _openshift,
    "openshift-servers": _openshift,
}

"""kubeadm's Corefiles (current: ``cache 30`` with cluster.local disabled; classic: plain
``cache 30``) replay cluster and forwarded names, and a cluster answer is never older than the
watch: a deleted Service is NXDOMAIN through the cache within a poll deadline far under its TTL."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.support import apiserver as fa
from tests.support import kdnsproc, kube_e2e
from tests.support import upstream as fake_upstream

COREFILE = """\
.:{port} {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:READY
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       kubeconfig KUBECONFIG
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus 127.0.0.1:PROMETHEUS
    forward . 127.0.0.1:UPSTREAM {
       max_concurrent 1000
    }
    CACHE
    loop
    reload
    loadbalance
}
"""
CURRENT = (
    "cache 30 {\n       disable success cluster.local\n       disable denial cluster.local\n    }"
)
CLASSIC = "cache 30"
#: Far under the cache's 30 s: the answer follows the watch event, not the TTL.
EVENT_DEADLINE = 3.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[fake_upstream.FakeUpstream]:
    with fake_upstream.running() as server:
        yield server


@pytest.fixture(params=[CURRENT, CLASSIC], ids=["current", "classic"])
def served(
    request: pytest.FixtureRequest, upstream: fake_upstream.FakeUpstream, tmp_path: Path
) -> Iterator[tuple[kube_e2e.ThreadedAPI, kube_e2e.Kdns, int]]:
    prometheus = kdnsproc.free_port()
    text = (
        COREFILE.replace("CACHE", request.param)
        .replace("PROMETHEUS", str(prometheus))
        .replace("UPSTREAM", str(upstream.port))
    )
    with kube_e2e.api_server() as api:
        api.start()
        api.create(fa.namespace("default"))
        for name, ip in (("web", "10.96.0.20"), ("db", "10.96.0.21")):
            api.create(fa.service(name, "default", cluster_ips=[ip]))
        with kube_e2e.kdns(api, tmp_path, corefile=text) as server:
            kube_e2e.wait_for(lambda: server.ready()[0] == 200, timeout=10, interval=0.05)
            yield api, server, prometheus


def _ask(port: int, name: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=2)


def _kept(prometheus: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{prometheus}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    found = re.search(r"^kdns_replay_entries (\S+)$", text, re.M)
    assert found is not None, "no kdns_replay_entries gauge"
    return int(float(found.group(1)))


def _kept_after_asking(port: int, prometheus: int, name: str) -> int:
    before = _kept(prometheus)
    for _ in range(5):
        assert _ask(port, name).rcode() == dns.rcode.NOERROR
    return _kept(prometheus) - before


def test_cluster_and_forwarded_names_replay(
    served: tuple[kube_e2e.ThreadedAPI, kube_e2e.Kdns, int],
) -> None:
    _api, server, prometheus = served
    # The loop plugin's probe must be over (it lingers 2 s) before anything replays.
    kube_e2e.wait_for(
        lambda: _kept_after_asking(server.port, prometheus, "web.default.svc.cluster.local.") == 1,
        timeout=10,
        interval=0.2,
    )
    assert _kept_after_asking(server.port, prometheus, "db.default.svc.cluster.local.") == 1
    assert _kept_after_asking(server.port, prometheus, "www.example.org.") == 1


def test_a_deleted_service_is_nxdomain_within_the_watch_not_the_ttl(
    served: tuple[kube_e2e.ThreadedAPI, kube_e2e.Kdns, int],
) -> None:
    api, server, _prometheus = served
    name = "web.default.svc.cluster.local."
    for _ in range(20):
        assert [rr.to_text() for rr in _ask(server.port, name).answer[0]] == ["10.96.0.20"]
    api.delete(fa.service("web", "default", cluster_ips=["10.96.0.20"]))
    kube_e2e.wait_for(
        lambda: _ask(server.port, name).rcode() == dns.rcode.NXDOMAIN,
        timeout=EVENT_DEADLINE,
        interval=0.01,
    )
    assert _ask(server.port, "db.default.svc.cluster.local.").rcode() == dns.rcode.NOERROR

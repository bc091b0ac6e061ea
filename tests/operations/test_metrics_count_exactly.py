"""/metrics after a known mix of queries: exact counter values and CoreDNS's label sets."""

from __future__ import annotations

import re
import urllib.request

import dns.message
import dns.query

from tests.support import clients, kdnsproc

GOLDEN_FAMILIES = {
    "coredns_build_info": ("gauge", {"version", "revision", "goversion"}),
    "coredns_dns_requests_total": (
        "counter",
        {"server", "zone", "view", "proto", "family", "type"},
    ),
    "coredns_dns_responses_total": ("counter", {"server", "zone", "view", "rcode", "plugin"}),
    "coredns_dns_request_duration_seconds": ("histogram", {"server", "zone", "view", "type"}),
    "coredns_dns_request_size_bytes": ("histogram", {"server", "zone", "view", "proto"}),
    "coredns_dns_response_size_bytes": ("histogram", {"server", "zone", "view", "proto"}),
    "coredns_dns_do_requests_total": ("counter", {"server", "view", "zone"}),
    "coredns_plugin_enabled": ("gauge", {"server", "zone", "view", "name"}),
}
TIME_BUCKETS = [f"{0.00025 * 2**i:g}" for i in range(16)]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return resp.read().decode()


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    out = {}
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out[labels] = float(m.group(2))
    return out


def test_known_query_mix_gives_exact_counts() -> None:
    metrics_port = kdnsproc.free_port()
    corefile = (
        f"example.test:{{port}} {{\n    bind 127.0.0.1\n    prometheus 127.0.0.1:{metrics_port}\n"
        "    whoami\n}\n"
        f".:{{port}} {{\n    bind 127.0.0.1\n    prometheus 127.0.0.1:{metrics_port}\n    chaos\n}}\n"
    )
    with clients.serve(corefile) as srv:
        base = scrape(metrics_port)
        server = f"dns://127.0.0.1:{srv.port}"
        before = samples(base, "coredns_dns_requests_total")
        for _ in range(3):
            srv.query("a.example.test.", "A")
        srv.query("a.example.test.", "AAAA", tcp=True)
        srv.query("a.example.test.", "MX", use_edns=0)
        q = dns.message.make_query("a.example.test.", "A", want_dnssec=True)
        dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=2)
        srv.query("nothing.other.", "A")  # the chaos block has no next plugin: SERVFAIL
        text = scrape(metrics_port)

    def key(**labels: str) -> frozenset[tuple[str, str]]:
        return frozenset(labels.items())

    requests = samples(text, "coredns_dns_requests_total")
    common = {"server": server, "view": "", "family": "1"}
    assert requests[key(zone="example.test.", proto="udp", type="A", **common)] == 4 + before.get(
        key(zone="example.test.", proto="udp", type="A", **common), 0
    )
    assert requests[key(zone="example.test.", proto="tcp", type="AAAA", **common)] == 1
    assert requests[key(zone="example.test.", proto="udp", type="MX", **common)] == 1
    assert requests[key(zone=".", proto="udp", type="A", **common)] >= 1
    responses = samples(text, "coredns_dns_responses_total")
    assert responses[key(server=server, zone=".", view="", rcode="SERVFAIL", plugin="")] >= 1
    do = samples(text, "coredns_dns_do_requests_total")
    assert do[key(server=server, zone="example.test.", view="")] == 1
    enabled = samples(text, "coredns_plugin_enabled")
    assert enabled[key(server=server, zone="example.test.", view="", name="whoami")] == 1
    assert enabled[key(server=server, zone=".", view="", name="chaos")] == 1

    for name, (kind, labels) in GOLDEN_FAMILIES.items():
        assert f"# TYPE {name} {kind}" in text
        series = [
            line
            for line in text.splitlines()
            if line.startswith(name + "{") or line.startswith(name + "_bucket{")
        ]
        assert series, name
        found = set(re.findall(r'(\w+)="', series[0])) - {"le"}
        assert found == labels, (name, found)
    buckets = [
        re.search(r'le="([^"]+)"', line).group(1)  # type: ignore[union-attr]
        for line in text.splitlines()
        if line.startswith("coredns_dns_request_duration_seconds_bucket{")
        and 'zone="example.test."' in line
        and 'type="A"' in line
    ]
    assert buckets[:-1] == TIME_BUCKETS and buckets[-1] == "+Inf"


def test_forward_metrics_have_coredns_names() -> None:
    metrics_port = kdnsproc.free_port()
    upstream = ".:{port} {\n    bind 127.0.0.1\n    whoami\n}\n"
    with clients.serve(upstream) as up:
        corefile = (
            f".:{{port}} {{\n    bind 127.0.0.1\n    prometheus 127.0.0.1:{metrics_port}\n"
            f"    forward . 127.0.0.1:{up.port} {{\n        max_concurrent 10\n    }}\n}}\n"
        )
        with clients.serve(corefile) as srv:
            for _ in range(3):
                srv.query("a.example.", "A")
            text = scrape(metrics_port)
    to = f"127.0.0.1:{up.port}"
    counts = samples(text, "coredns_proxy_request_duration_seconds_count")
    assert counts[frozenset({("proxy_name", "forward"), ("to", to), ("rcode", "NOERROR")})] >= 3
    assert "# TYPE coredns_forward_max_concurrent_rejects_total counter" in text
    assert "coredns_forward_healthcheck_broken_total 0.0" in text

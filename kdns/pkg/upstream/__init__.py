"""Talking to upstream DNS servers: CoreDNS's ``plugin/pkg/proxy``, for forward and loop.

- `message`: the query sent upstream and the checks a reply must pass before it is believed.
- `ports`: a fresh random source port for every UDP query.
- `transport`: one exchange over UDP, and pooled TCP and TLS connections.
- `proxy`: one upstream: its transports, its failure count and its health check.
- `errors`: failures, worded as Go's ``net`` package words them, because that is what users grep
  their CoreDNS logs for.
- `metrics`: the counters behind CoreDNS's ``coredns_proxy_*`` metrics.
"""

"""Talking to upstream DNS servers: CoreDNS's ``plugin/pkg/proxy``, for forward and loop.

- `message`: the query sent upstream and the checks a reply must pass before it is believed.
- `ports`: a fresh random source port for every UDP query; `entropy`: the random numbers.
- `transport`: the transports in one place: `datagram` (one query over UDP, on a socket of its
  own), `stream` (TCP and TLS connections, pooled and pipelined), `endpoint` (what they share).
- `limits`: how many sockets all of this may hold, and what a query gets at the limit.
- `proxy`: one upstream: its transports, its failure count and its health check.
- `errors`: failures, worded as Go's ``net`` package words them, because that is what users grep
  their CoreDNS logs for.
- `metrics`: the counters behind CoreDNS's ``coredns_proxy_*`` metrics.
"""

"""prometheus: CoreDNS's metrics on an HTTP /metrics endpoint."""

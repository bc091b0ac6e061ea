"""forward: proxies queries to upstream resolvers over UDP, TCP or TLS (CoreDNS's forward)."""

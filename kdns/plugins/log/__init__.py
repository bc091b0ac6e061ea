"""log: one line per query in CoreDNS's common log format."""

"""any: ANY queries answered with RFC 8482's HINFO (CoreDNS's any)."""

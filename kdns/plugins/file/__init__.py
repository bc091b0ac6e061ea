"""file: authoritative zones from RFC 1035 zone files (CoreDNS's file)."""

"""local: answers for localhost names per RFC 6761 (CoreDNS's local)."""

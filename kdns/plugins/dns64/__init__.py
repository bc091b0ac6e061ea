"""dns64: AAAA records synthesised from A records for IPv6-only clients (RFC 6147)."""

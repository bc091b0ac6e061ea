"""loadbalance: round robin of A, AAAA and MX records in replies, CoreDNS's *loadbalance*."""

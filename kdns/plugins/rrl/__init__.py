"""rrl: response rate limiting per client prefix (the coredns/rrl external plugin, BIND's RRL)."""

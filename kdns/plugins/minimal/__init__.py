"""minimal: positive replies carry the answer section only (CoreDNS's minimal)."""

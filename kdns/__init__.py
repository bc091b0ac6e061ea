"""kdns: a CoreDNS-compatible cluster DNS server for Kubernetes."""

__version__ = "0.1.0"

"""Transports: UDP and TCP listeners that hand queries to server blocks. Knows nothing of Kubernetes."""

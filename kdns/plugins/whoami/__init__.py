"""whoami: answers with the client's address and port (CoreDNS's whoami)."""

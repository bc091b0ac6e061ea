"""loop: detects forwarding loops at startup and stops kdns (CoreDNS's loop)."""

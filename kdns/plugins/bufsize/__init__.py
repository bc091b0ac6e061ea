"""bufsize: caps the EDNS buffer size of incoming requests (CoreDNS's bufsize)."""

"""header: sets or clears header flags of queries and replies (CoreDNS's header)."""

"""nsid: the name server identifier (RFC 5001) in replies to queries that ask for it."""

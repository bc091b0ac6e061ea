"""timeouts: the read, write and idle timeouts of a server block's TCP listeners."""

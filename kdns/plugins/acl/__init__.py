"""acl: allow, block, filter or drop queries by client network and query type (CoreDNS's acl)."""

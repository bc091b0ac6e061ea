"""chaos: CH-class TXT answers for version.bind, version.server, authors.bind, hostname.bind, id.server."""

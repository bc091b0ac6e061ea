"""cache: a front-end cache of replies, CoreDNS's *cache* (see README.md)."""

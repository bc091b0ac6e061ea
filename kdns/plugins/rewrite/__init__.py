"""The ``rewrite`` plugin: CoreDNS's internal rewriting of questions, EDNS options and replies."""

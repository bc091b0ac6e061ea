"""template: answers built per query from Go text/template records (CoreDNS's template)."""

"""errors: logs the errors the rest of the chain returns, as CoreDNS's errors plugin."""

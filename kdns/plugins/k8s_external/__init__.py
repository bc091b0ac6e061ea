"""k8s_external: Services' external addresses under an external zone (CoreDNS's k8s_external)."""

"""Record synthesis: Kubernetes objects (from ``kdns.kube.store``) to DNS records.

Sits between the Kubernetes cache, which knows nothing of DNS, and the plugin,
which serves pre-rendered answers. Behaviour follows CoreDNS's kubernetes plugin
(``../shared/reference/SPEC-NOTES.md`` walks through every name shape).
"""

"""``kdns explain``: why a name resolves the way it does, from the Corefile and the cluster."""

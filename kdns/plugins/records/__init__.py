"""records: authoritative answers from YAML zone files, so kdns is useful without a cluster."""

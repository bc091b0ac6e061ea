"""health: an HTTP liveness endpoint, and lameduck on shutdown."""

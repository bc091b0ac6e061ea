"""ready: an HTTP readiness endpoint, 200 once every plugin that reports readiness is ready."""

"""Structured logs, Prometheus metrics and the small health/metrics HTTP server of the workers."""

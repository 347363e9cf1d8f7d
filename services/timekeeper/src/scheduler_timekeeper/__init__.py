"""Timekeeper service: claims due jobs, writes executions, publishes runs."""

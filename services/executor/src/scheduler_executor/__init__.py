"""Executor service: consumes runs, locks, runs task functions."""

"""Broker limits: the AMQP ranges that priorities, prefetch windows and message packing must fit in, and the
checks both brokers apply to their arguments.
"""

from __future__ import annotations

# AMQP 0-9-1 carries priority in one octet and RabbitMQ caps x-max-priority at 255.
MAX_SUPPORTED_PRIORITY = 255
# basic.qos prefetch_count is an AMQP short (16 bits); 0 would mean "unlimited", which we never want.
MAX_PREFETCH = 65535
# Upper bound of runs_per_message: keeps one message's body (about 150 bytes a run) and one claim batch small.
MAX_RUNS_PER_MESSAGE = 1000


def clamp_priority(priority: int, max_priority: int) -> int:
    """Map a job priority (any int) onto the AMQP priority range ``0..max_priority``."""
    return max(0, min(priority, max_priority))


def _check_count(name: str, value: int, maximum: int) -> int:
    if isinstance(value, bool) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an int in 1..{maximum}, got {value!r}")
    return value


def check_max_priority(max_priority: int) -> int:
    """Validate a ``max_priority`` constructor argument and return it."""
    return _check_count("max_priority", max_priority, MAX_SUPPORTED_PRIORITY)


def check_prefetch(prefetch: int) -> int:
    """Validate the ``prefetch`` argument of ``consume`` and return it."""
    return _check_count("prefetch", prefetch, MAX_PREFETCH)


def check_runs_per_message(runs_per_message: int) -> int:
    """Validate a ``runs_per_message`` constructor argument and return it."""
    return _check_count("runs_per_message", runs_per_message, MAX_RUNS_PER_MESSAGE)

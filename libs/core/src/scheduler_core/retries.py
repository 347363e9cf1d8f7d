"""When a failed attempt of a run is tried again: the job's retry policy, as a pure function of the attempt.

A slot's attempt N (1-based) that ends failed (its task raised or timed out, or its executor was lost) is followed
by attempt N + 1 if N <= max_retries, once min(delay * factor ** (N - 1), max_delay) seconds have passed since
attempt N ended, plus up to JITTER of that (so that the retries of many runs that failed together, say against a
dependency that went down, do not all come back at the same instant). Jitter only adds: an attempt never starts
before its delay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# The jitter added to a delay, as a fraction of it (at most).
JITTER: Final = 0.1


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int  # attempts after the first, at most
    delay_s: int  # seconds before the first retry
    backoff_factor: float  # each further retry waits this many times longer
    max_delay_s: int  # seconds a retry waits at most (before jitter)

    def delay_after(self, attempt: int, jitter: float) -> float | None:
        """Seconds from the end of failed `attempt` to the start of the next one, or None if none follows.
        `jitter` in [0, 1) picks where in the jitter range the delay falls."""
        if attempt > self.max_retries:
            return None
        base = min(self.delay_s * self.backoff_factor ** (attempt - 1), float(self.max_delay_s))
        return base * (1.0 + JITTER * jitter)

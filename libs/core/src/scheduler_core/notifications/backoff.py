"""When a delivery that failed is tried again, as a pure function of its attempts: the schedule is persisted
(notification_deliveries.next_attempt_at), so a relay that restarts, or another timekeeper's, continues it.

Attempt N (1-based) that fails is followed by attempt N + 1 once min(first_delay * 2 ** (N - 1), max_delay)
seconds have passed, plus up to JITTER of that (so that the deliveries of many events that failed together, to a
receiver that was down, do not all come back at the same instant); jitter only adds. A delivery whose next attempt
would begin more than give_up_after seconds after its event was written is given up (status failed). With the
defaults (10 s, 1 h, a day) the attempts begin about 0 s, 10 s, 30 s, 70 s, 150 s, 310 s, 630 s, 21 min, 43 min and
85 min after the event, then hourly: 32 attempts in a day (tests/unit/test_notification_backoff.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

# The jitter added to a delay, as a fraction of it (at most).
JITTER: Final = 0.1


@dataclass(frozen=True, slots=True)
class DeliveryBackoff:
    first_delay: float  # seconds from the first failed attempt to the second
    max_delay: float  # seconds between attempts at most (before jitter)
    give_up_after: float  # seconds from the event after which no attempt begins

    def delay_after(self, attempts: int, jitter: float) -> float:
        """Seconds from the end of failed attempt `attempts` (1-based) to the next; `jitter` in [0, 1)."""
        exponent = min(max(attempts - 1, 0), 64)  # 2 ** 64 seconds is past any max_delay
        return min(self.first_delay * 2.0**exponent, self.max_delay) * (1.0 + JITTER * jitter)

    def next_attempt(self, attempts: int, *, created_at: datetime, now: datetime, jitter: float) -> datetime | None:
        """When attempt `attempts` + 1 begins, after attempt `attempts` failed at `now`; None: give up."""
        at = now + timedelta(seconds=self.delay_after(attempts, jitter))
        if at > created_at + timedelta(seconds=self.give_up_after):
            return None
        return at

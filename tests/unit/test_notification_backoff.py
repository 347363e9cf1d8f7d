"""The delivery backoff: exponential from the first delay, capped, jitter that only adds, and given up once the
next attempt would begin past the window after the event; with the defaults, 32 attempts in a day."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from scheduler_core.notifications import DeliveryBackoff
from scheduler_core.notifications.backoff import JITTER
from scheduler_core.settings import Settings

EVENT = datetime(2027, 1, 1, tzinfo=UTC)


def defaults() -> DeliveryBackoff:
    settings = Settings()
    return DeliveryBackoff(
        settings.notification_retry_delay, settings.notification_retry_max_delay, settings.notification_give_up_after
    )


def test_delays_double_from_the_first_and_stop_growing_at_the_cap() -> None:
    backoff = DeliveryBackoff(first_delay=10, max_delay=100, give_up_after=86_400)
    assert [backoff.delay_after(n, jitter=0.0) for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]
    assert backoff.delay_after(10_000, jitter=0.0) == 100  # no overflow however many attempts


@pytest.mark.parametrize("jitter", [0.0, 0.3, 0.999])
def test_jitter_only_adds_up_to_its_fraction(jitter: float) -> None:
    backoff = DeliveryBackoff(first_delay=10, max_delay=100, give_up_after=86_400)
    delay = backoff.delay_after(3, jitter=jitter)
    assert 40 <= delay < 40 * (1 + JITTER)


def test_the_next_attempt_is_given_up_once_it_would_begin_past_the_window() -> None:
    backoff = DeliveryBackoff(first_delay=10, max_delay=100, give_up_after=60)
    assert backoff.next_attempt(1, created_at=EVENT, now=EVENT, jitter=0.0) == EVENT + timedelta(seconds=10)
    assert backoff.next_attempt(
        2, created_at=EVENT, now=EVENT + timedelta(seconds=40), jitter=0.0
    ) == EVENT + timedelta(seconds=60)
    assert backoff.next_attempt(3, created_at=EVENT, now=EVENT + timedelta(seconds=40), jitter=0.0) is None


def test_with_the_defaults_a_receiver_down_for_a_day_gets_32_attempts_then_the_delivery_fails() -> None:
    backoff = defaults()
    starts = [EVENT]  # attempt 1 is due when the event is written; each attempt fails at once
    while (following := backoff.next_attempt(len(starts), created_at=EVENT, now=starts[-1], jitter=0.0)) is not None:
        starts.append(following)
    offsets = [(at - EVENT).total_seconds() for at in starts]
    assert offsets[:10] == [0, 10, 30, 70, 150, 310, 630, 1270, 2550, 5110]
    assert all(b - a == 3600 for a, b in itertools.pairwise(offsets[9:]))
    assert len(starts) == 32
    assert offsets[-1] <= 86_400 < offsets[-1] + 3600

"""Fire times: when a schedule fires after a given instant (``next_fire_time``) or within a window
(``fire_times_between``), and the lazy instant iteration both share with misfire planning.

Interval jobs are fixed-rate (``anchor + k * period``, exact timedelta arithmetic); cron jobs are delegated to
the wall-clock iteration of ``wall_clock``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from .definition import CronSchedule, IntervalSchedule, Schedule
from .wall_clock import cron_instants

_MICROSECOND: Final = timedelta(microseconds=1)


def as_utc(value: datetime, name: str) -> datetime:
    """``value`` as UTC; TypeError if it is not a datetime, ValueError if it is naive (``name`` says which)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _interval_first(schedule: IntervalSchedule, after: datetime, anchor: datetime | None) -> datetime:
    period = schedule.period
    if anchor is None:
        return after + period
    if anchor > after:
        return anchor
    # Exact integer arithmetic on timedelta (microsecond resolution): no float drift however far apart.
    steps = (after - anchor) // period + 1
    return anchor + steps * period


def _interval_instants(schedule: IntervalSchedule, after: datetime, anchor: datetime | None) -> Iterator[datetime]:
    try:
        instant = _interval_first(schedule, after, anchor)
        while True:
            yield instant
            instant += schedule.period
    except OverflowError:
        return


def instants(schedule: Schedule, after: datetime, anchor: datetime | None) -> Iterator[datetime]:
    """Fire instants strictly after ``after`` (UTC), strictly increasing, lazily; ``anchor`` as in next_fire_time."""
    if isinstance(schedule, CronSchedule):
        return cron_instants(schedule, after)
    if isinstance(schedule, IntervalSchedule):
        return _interval_instants(schedule, after, anchor)
    raise TypeError(f"not a schedule: {schedule!r}")


def next_fire_time(schedule: Schedule, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
    """The first fire instant strictly after ``after``, in UTC, or None if there is none.

    Interval jobs are fixed-rate: fire instants are ``anchor + k * period`` for k >= 0, so there is no
    drift however late the caller is. Without an anchor the result is ``after + period``; with one it is
    the anchor itself when ``anchor > after``, else the smallest ``anchor + k * period > after``.

    Cron jobs ignore ``anchor`` and are evaluated on the wall clock of ``schedule.timezone`` with
    Debian cron's daylight-saving rules. A job is *wildcard* if its minute or hour field starts with
    ``*`` (``*/5`` included), else *fixed-time*. Spring forward: a fixed-time job whose wall time is
    skipped runs once at the transition instant (several skipped wall times collapse into that one
    run); a wildcard job has no runs for skipped wall times. Fall back: a fixed-time job runs once, at
    the first occurrence; a wildcard job runs in both passes. Results are strictly increasing.

    None means the schedule can never fire again: no matching date within 50 years (e.g. Feb 30) or
    beyond year 9999. Raises ValueError for a naive datetime.
    """
    after = as_utc(after, "after")
    anchor = None if anchor is None else as_utc(anchor, "anchor")
    return next(instants(schedule, after, anchor), None)


def fire_times_between(
    schedule: Schedule, start: datetime, end: datetime, *, limit: int, anchor: datetime | None = None
) -> list[datetime]:
    """Fire instants t with ``start <= t <= end`` (both inclusive), ascending, at most ``limit``.

    Same instants as repeated ``next_fire_time``. For interval jobs ``anchor`` defaults to ``start``
    (so ``start`` itself is the first instant). Raises ValueError for naive datetimes or limit < 0.
    """
    start = as_utc(start, "start")
    end = as_utc(end, "end")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if isinstance(schedule, IntervalSchedule) and anchor is None:
        anchor = start
    anchor = None if anchor is None else as_utc(anchor, "anchor")
    result: list[datetime] = []
    if limit == 0 or start > end:
        return result
    # Instants are microsecond-resolution, so "> start - 1 µs" is ">= start".
    for instant in instants(schedule, start - _MICROSECOND, anchor):
        if instant > end or len(result) >= limit:
            break
        result.append(instant)
    return result

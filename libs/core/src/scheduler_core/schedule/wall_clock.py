"""Cron fire instants on a zone's wall clock: croniter walks naive wall-clock times, where its iteration is
exact, and this module maps each wall time to its UTC instants across daylight-saving gaps and folds with
``zoneinfo``, following Debian cron's rules (see ``next_fire_time``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from .definition import CRON_SEARCH_YEARS, CronSchedule, load_zone

_SECOND: Final = timedelta(seconds=1)
_MINUTE: Final = timedelta(minutes=1)

# Widest spread of UTC offsets in the tz database (-12:00 .. +14:00, plus LMT slack), in hours. Used to
# bound how far back, in wall-clock time, a fire instant after a given instant can lie.
_OFFSET_SPREAD_HOURS: Final = 29


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has an offset
    return offset


def _gap_end(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant of the DST gap that lies in ``(before, after]`` (UTC, whole seconds).

    ``before`` carries the pre-transition offset and ``after`` the post-transition one; bisection over
    whole seconds (transitions in the tz database fall on whole seconds) finds the first instant with
    the post-transition offset.
    """
    target = _offset(after, zone)
    low = before.replace(microsecond=0)
    high = after
    while high - low > _SECOND:
        middle = low + ((high - low) // 2 // _SECOND) * _SECOND
        if _offset(middle, zone) == target:
            high = middle
        else:
            low = middle
    return high


def _wall_instants(wall: datetime, zone: ZoneInfo, fixed_time: bool) -> tuple[datetime, list[datetime]]:
    """Map a naive wall time to (a lower bound of its instants, its fire instants), all UTC.

    Debian cron's rules: a fixed-time job fires once per wall time, at the first occurrence of a
    repeated one and at the end of the gap (the transition instant) for a skipped one. A wildcard job
    fires at every real occurrence: twice for a repeated wall time, never for a skipped one.
    The lower bound (first occurrence, or the transition instant for a gap) never decreases as the
    wall time increases, which is what lets ``cron_instants`` emit instants in order.
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first, [first]
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        # In a gap PEP 495 maps fold=0 with the old offset (past the transition) and fold=1 with the
        # new one (before it): the wall time never happens.
        transition = _gap_end(second, first, zone)
        return transition, ([transition] if fixed_time else [])
    # A repeated wall time: fold=0 is the first pass, fold=1 the second.
    return first, ([first] if fixed_time else [first, second])


def cron_instants(schedule: CronSchedule, after: datetime) -> Iterator[datetime]:
    """Fire instants of ``schedule`` strictly after ``after`` (UTC), strictly increasing, lazily.

    Ends when croniter finds no matching wall time within ``CRON_SEARCH_YEARS`` years or the calendar
    runs out (year 9999).
    """
    zone = load_zone(schedule.timezone)
    fixed_time = not schedule.is_wildcard
    # A fire instant u > after has the wall time u + offset(u). Offsets only matter within the offset
    # spread of `after` (beyond it the wall time is later anyway), so start the wall-clock walk at
    # after + the lowest offset in force during the next _OFFSET_SPREAD_HOURS (hourly samples: no
    # offset in the tz database lasts under an hour). That covers walls repeated by an upcoming fall-back.
    offsets: list[timedelta] = []
    for hours in range(_OFFSET_SPREAD_HOURS + 1):
        try:
            offsets.append(_offset(after + timedelta(hours=hours), zone))
        except OverflowError:
            break
    if not offsets:
        return  # `after` has no local time before the end of the calendar (year 9999)
    start_wall = (after + min(offsets)).replace(tzinfo=None) - _MINUTE
    walls = croniter(schedule.expression, start_wall, max_years_between_matches=CRON_SEARCH_YEARS)

    pending: list[datetime] = []  # min-heap of found instants not yet emitted
    last = after
    while True:
        try:
            wall = walls.get_next(datetime)
            lower_bound, instants = _wall_instants(wall, zone, fixed_time)
        except (CroniterBadDateError, OverflowError, ValueError):
            # No further match, or past the end of the calendar.
            break
        # Every later wall time maps to instants >= lower_bound, so anything pending up to it is final.
        while pending and pending[0] <= lower_bound:
            instant = heapq.heappop(pending)
            if instant > last:  # drops duplicates, e.g. several gap wall times collapsed onto one instant
                last = instant
                yield instant
        for instant in instants:
            if instant > last:
                heapq.heappush(pending, instant)
    while pending:
        instant = heapq.heappop(pending)
        if instant > last:
            last = instant
            yield instant

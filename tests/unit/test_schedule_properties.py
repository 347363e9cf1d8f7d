"""Hypothesis properties of scheduler_core.schedule.

The DST property compares cron fire instants with a brute-force oracle that walks every real UTC minute
and applies Debian cron's rules from first principles (see ``oracle_fire_times``); it shares no code with
the implementation beyond croniter's parsing of the expression into value sets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler_core.schedule import (
    CronSchedule,
    IntervalSchedule,
    Schedule,
    fire_times_between,
    next_fire_time,
    plan_due_runs,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)

# Zones with interesting transitions: 60- and 30-minute shifts, midnight transitions (Santiago),
# negative DST (Dublin), odd offsets (Chatham +12:45, St Johns -3:30), none at all (Kolkata, UTC).
DST_ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Europe/Dublin",
    "America/St_Johns",
)
ALL_ZONES = (*DST_ZONES, "Asia/Kolkata", "UTC")

# Fixed-time and wildcard expressions, many with wall times inside typical DST gaps and folds.
EXPRESSIONS = (
    "* * * * *",
    "*/15 * * * *",
    "30 * * * *",
    "*/20 1 * * *",
    "*/10 2 * * *",
    "* 1 * * *",
    "*/30 0,1,2,3 * * *",
    "15 */2 * * *",
    "0 0 * * *",
    "30 2 * * *",
    "45 1 * * *",
    "0,30 1,2,3 * * *",
    "0 0-3 * * *",
    "0,15,30,45 2 * * *",
    "59 23 * * *",
    "0 12 * * 1-5",
    "10 3 * * 0",
    "0 0 1 * *",
)


@functools.cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC instants (whole seconds) where the zone's offset changes, 2024-2027."""
    zone = ZoneInfo(zone_name)

    def offset(instant: datetime) -> timedelta | None:
        return instant.astimezone(zone).utcoffset()

    found: list[datetime] = []
    step = timedelta(hours=6)
    cursor = datetime(2024, 1, 1, tzinfo=UTC)
    while cursor < datetime(2028, 1, 1, tzinfo=UTC):
        if offset(cursor) != offset(cursor + step):
            low, high = cursor, cursor + step
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            found.append(high)
        cursor += step
    return tuple(found)


def near_transition(zone_names: tuple[str, ...], spread: timedelta) -> st.SearchStrategy[tuple[str, datetime]]:
    """(zone, instant) with the instant within ``spread`` of one of the zone's transitions."""

    def around(zone_name: str) -> st.SearchStrategy[tuple[str, datetime]]:
        points = transitions(zone_name) or (datetime(2025, 6, 1, tzinfo=UTC),)
        limit = int(spread.total_seconds())
        return st.tuples(
            st.just(zone_name),
            st.builds(
                lambda base, shift, micro: base + timedelta(seconds=shift, microseconds=micro),
                st.sampled_from(points),
                st.integers(-limit, limit),
                st.sampled_from([0, 0, 1, 500_000, 999_999]),
            ),
        )

    return st.sampled_from(zone_names).flatmap(around)


any_instant = st.datetimes(
    # Hypothesis takes naive bounds; timezones= makes the drawn values UTC.
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)

cron_schedules = st.builds(CronSchedule, st.sampled_from(EXPRESSIONS), st.sampled_from(ALL_ZONES))
interval_schedules = st.builds(
    IntervalSchedule,
    st.one_of(st.integers(1, 120), st.sampled_from([300, 3_600, 5_400, 86_400, 7 * 86_400]), st.integers(1, 10**7)),
)
schedules = st.one_of(cron_schedules, interval_schedules)


@st.composite
def schedule_and_instant(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime | None]:
    """A schedule, an `after` instant (often near a DST transition of the schedule's zone) and an anchor."""
    schedule = draw(schedules)
    if isinstance(schedule, CronSchedule) and draw(st.booleans()):
        _zone, after = draw(near_transition((schedule.timezone,), timedelta(hours=30)))
    else:
        after = draw(any_instant)
    anchor = None
    if isinstance(schedule, IntervalSchedule) and draw(st.booleans()):
        anchor = after + timedelta(
            seconds=draw(st.integers(-(10**8), 10**6)), microseconds=draw(st.integers(0, 999_999))
        )
    return schedule, after, anchor


# ------------------------------------------------------------------------------------------------
# next_fire_time


@FAST
@given(schedule_and_instant())
def test_next_fire_time_is_strictly_after(case: tuple[Schedule, datetime, datetime | None]) -> None:
    schedule, after, anchor = case
    found = next_fire_time(schedule, after, anchor=anchor)
    assert found is not None
    assert found > after
    assert found.tzinfo is UTC
    if isinstance(schedule, IntervalSchedule):
        period = timedelta(seconds=schedule.period_seconds)
        base = after if anchor is None else anchor
        # On the grid anchor + k*period, and the first grid point after `after` (never before the anchor).
        assert (found - base) % period == timedelta(0)
        assert found - period <= after or found == anchor
    else:
        assert found.second == 0
        assert found.microsecond == 0


@FAST
@given(schedule_and_instant(), st.integers(2, 6))
def test_consecutive_fire_times_strictly_increase(case: tuple[Schedule, datetime, datetime | None], steps: int) -> None:
    schedule, after, anchor = case
    cursor = after
    for _ in range(steps):
        found = next_fire_time(schedule, cursor, anchor=anchor)
        assert found is not None
        assert found > cursor
        cursor = found


@FAST
@given(schedule_and_instant(), st.floats(0, 1, exclude_max=True))
def test_no_fire_time_is_skipped(case: tuple[Schedule, datetime, datetime | None], fraction: float) -> None:
    # Any instant between `after` and the next fire time has that same next fire time.
    schedule, after, anchor = case
    if isinstance(schedule, IntervalSchedule) and anchor is None:
        anchor = after  # without an anchor the grid moves with `after`; pin it
    found = next_fire_time(schedule, after, anchor=anchor)
    assert found is not None
    between = after + (found - after) * fraction
    if between >= found:
        between = found - MICROSECOND
    assert next_fire_time(schedule, max(between, after), anchor=anchor) == found


@FAST
@given(schedule_and_instant(), st.integers(0, 3 * 86_400), st.integers(0, 40))
def test_fire_times_between_matches_repeated_next_fire_time(
    case: tuple[Schedule, datetime, datetime | None], span_seconds: int, limit: int
) -> None:
    schedule, start, anchor = case
    end = start + timedelta(seconds=span_seconds)
    expected: list[datetime] = []
    cursor = start - MICROSECOND
    pinned = start if isinstance(schedule, IntervalSchedule) and anchor is None else anchor
    while len(expected) < limit:
        found = next_fire_time(schedule, cursor, anchor=pinned)
        if found is None or found > end:
            break
        expected.append(found)
        cursor = found
    assert fire_times_between(schedule, start, end, limit=limit, anchor=anchor) == expected


# ------------------------------------------------------------------------------------------------
# DST rules against a brute-force oracle


def _field_values(values: list[str], low: int, high: int) -> frozenset[int]:
    # croniter's stubs say list[str]; at run time the values are ints, or ["*"] for a full field.
    return frozenset(range(low, high + 1)) if values == ["*"] else frozenset(int(v) for v in values)


@dataclass(frozen=True)
class CronSets:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # cron numbering: Sunday = 0
    either_day: bool  # Vixie cron ORs the day fields only when both are restricted

    def matches(self, wall: datetime) -> bool:
        """Plain cron matching of a naive wall time."""
        dom_ok = wall.day in self.days
        dow_ok = (wall.weekday() + 1) % 7 in self.weekdays
        day_ok = (dom_ok or dow_ok) if self.either_day else (dom_ok and dow_ok)
        return wall.minute in self.minutes and wall.hour in self.hours and wall.month in self.months and day_ok


@functools.cache
def cron_sets(expression: str) -> CronSets:
    """The value sets of a numeric 5-field expression (croniter only parses it)."""
    minute, hour, dom, month, dow = croniter(expression).expanded
    return CronSets(
        minutes=_field_values(minute, 0, 59),
        hours=_field_values(hour, 0, 23),
        days=_field_values(dom, 1, 31),
        months=_field_values(month, 1, 12),
        weekdays=_field_values(dow, 0, 6),
        either_day=dom != ["*"] and dow != ["*"],
    )


def oracle_fire_times(expression: str, zone_name: str, start: datetime, end: datetime) -> list[datetime]:
    """Debian cron, one real minute at a time (valid where transitions fall on whole minutes, as here).

    At real minute u with wall time w: a wildcard job fires iff w matches; a fixed-time job fires iff w
    matches and this is the first time the wall clock shows w, or if u ends a gap and some skipped wall
    time matches.
    """
    zone = ZoneInfo(zone_name)
    sets = cron_sets(expression)
    fields = expression.split()
    wildcard = fields[0].startswith("*") or fields[1].startswith("*")
    instant = start.replace(second=0, microsecond=0)
    if instant < start:
        instant += MINUTE
    result: list[datetime] = []
    while instant <= end:
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None)
        previous_wall = (instant - MINUTE).astimezone(zone).replace(tzinfo=None)
        skipped = []
        gap_wall = previous_wall + MINUTE
        while gap_wall < wall:
            skipped.append(gap_wall)
            gap_wall += MINUTE
        if wildcard:
            fires = sets.matches(wall)
        else:
            fires = (sets.matches(wall) and local.fold == 0) or any(sets.matches(w) for w in skipped)
        if fires:
            result.append(instant)
        instant += MINUTE
    return result


@st.composite
def window_around_transition(draw: st.DrawFn) -> tuple[str, datetime, datetime]:
    """(zone, start, end): mostly a window that contains a transition, sometimes one just beside it."""
    zone_name = draw(st.sampled_from(DST_ZONES))
    transition = draw(st.sampled_from(transitions(zone_name)))
    before = timedelta(minutes=draw(st.integers(-120, 6 * 60)), seconds=draw(st.sampled_from([0, 0, 1, 59])))
    length = timedelta(minutes=draw(st.integers(0, 10 * 60)))
    start = transition - before
    return zone_name, start, max(start + length, transition) if draw(st.integers(0, 3)) else start + length


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window_around_transition(), st.sampled_from(EXPRESSIONS))
def test_cron_matches_debian_oracle_around_transitions(window: tuple[str, datetime, datetime], expression: str) -> None:
    zone_name, start, end = window
    expected = oracle_fire_times(expression, zone_name, start, end)
    assert fire_times_between(CronSchedule(expression, zone_name), start, end, limit=1_000) == expected


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("zone_name", DST_ZONES)
def test_cron_matches_debian_oracle_at_every_transition(zone_name: str, expression: str) -> None:
    # Exhaustive companion of the property above: every 2025-2026 transition, three hours either side.
    schedule = CronSchedule(expression, zone_name)
    for transition in transitions(zone_name):
        if transition.year in (2025, 2026):
            start, end = transition - timedelta(hours=3), transition + timedelta(hours=3)
            expected = oracle_fire_times(expression, zone_name, start, end)
            assert fire_times_between(schedule, start, end, limit=1_000) == expected, transition


def test_oracle_sees_the_transitions_it_is_meant_to_test() -> None:
    # Guards the property above: every DST zone must really have transitions in the sampled years.
    for zone_name in DST_ZONES:
        assert len(transitions(zone_name)) >= 6, zone_name


# ------------------------------------------------------------------------------------------------
# plan_due_runs


@st.composite
def due_case(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime, int, bool, int]:
    schedule = draw(st.one_of(cron_schedules, st.builds(IntervalSchedule, st.integers(1, 7_200))))
    if isinstance(schedule, CronSchedule) and draw(st.booleans()):
        _zone, base = draw(near_transition((schedule.timezone,), timedelta(hours=12)))
    else:
        base = draw(any_instant)
    # next_run_at is a genuine slot of the job, as the timekeeper keeps it.
    first = next_fire_time(schedule, base, anchor=base if isinstance(schedule, IntervalSchedule) else None)
    assert first is not None
    behind = timedelta(seconds=draw(st.integers(-600, 2 * 86_400)), microseconds=draw(st.integers(0, 999_999)))
    grace = draw(st.sampled_from([0, 1, 30, 60, 3_600, 86_400]))
    coalesce = draw(st.booleans())
    limit = draw(st.integers(1, 60))
    return schedule, first, first + behind, grace, coalesce, limit


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(due_case())
def test_plan_due_runs_properties(case: tuple[Schedule, datetime, datetime, int, bool, int]) -> None:
    schedule, first, now, grace, coalesce, limit = case
    plan = plan_due_runs(schedule, first, now, misfire_grace_time=grace, coalesce=coalesce, limit=limit)
    slots = fire_times_between(schedule, first, now, limit=limit, anchor=first)
    rows = [*plan.missed, *plan.run]

    # Conservation: the counts add up to the slots walked, which are exactly the due slots up to `limit`.
    assert sum(row.coalesced_count for row in rows) == len(slots)
    if coalesce:
        assert len(plan.run) <= 1
        assert len(plan.missed) <= 1
    else:
        assert [row.scheduled_at for row in rows] == slots
        assert all(row.coalesced_count == 1 and row.coalesced_from is None for row in rows)

    # Rows are ascending, missed before run, and each row is classified by its lateness.
    assert [row.scheduled_at for row in rows] == sorted(row.scheduled_at for row in rows)
    for row in rows:
        assert row.coalesced_count >= 1
        assert (row.coalesced_from is None) == (row.coalesced_count == 1)
        earliest = row.coalesced_from or row.scheduled_at
        assert earliest in slots
        assert row.scheduled_at in slots
        assert slots.index(row.scheduled_at) - slots.index(earliest) + 1 == row.coalesced_count
        late = [(now - slot) // timedelta(seconds=1) > grace for slot in (earliest, row.scheduled_at)]
        assert late == ([True, True] if row in plan.missed else [False, False])

    # next_run_at: after now unless the walk was truncated, then the first slot not handled.
    if plan.truncated:
        assert len(slots) == limit
        assert plan.next_run_at is not None
        assert plan.next_run_at <= now
        assert plan.next_run_at == next_fire_time(schedule, slots[-1], anchor=first)
    else:
        assert plan.next_run_at is not None
        assert plan.next_run_at > now
        if slots:
            assert plan.next_run_at == next_fire_time(schedule, now, anchor=first)
        else:
            assert plan.next_run_at == first


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(due_case())
def test_plan_due_runs_passes_cover_every_slot_once(case: tuple[Schedule, datetime, datetime, int, bool, int]) -> None:
    schedule, first, now, grace, coalesce, limit = case
    now = min(now, first + timedelta(hours=3))  # at most 10,801 slots (1 s interval) keeps the test fast
    all_slots = fire_times_between(schedule, first, now, limit=20_000, anchor=first)
    limit = max(limit, len(all_slots) // 8 + 1)  # at most ~9 passes keeps the test fast
    cursor: datetime | None = first
    covered = 0
    previous: datetime | None = None
    for _ in range(len(all_slots) + 2):
        if cursor is None or cursor > now:
            break
        plan = plan_due_runs(schedule, cursor, now, misfire_grace_time=grace, coalesce=coalesce, limit=limit)
        for row in (*plan.missed, *plan.run):
            earliest = row.coalesced_from or row.scheduled_at
            assert previous is None or earliest > previous  # no overlap between rows or passes
            previous = row.scheduled_at
            covered += row.coalesced_count
        cursor = plan.next_run_at
    assert covered == len(all_slots)
    assert cursor is not None
    assert cursor > now

"""Table-driven tests of scheduler_core.schedule: validation, description, fire instants, DST, misfires.

Every expected instant below is written out in UTC by hand (with the local wall time it stands for in the
comment), so a table row fails if the rule it names is broken rather than agreeing with the code by
construction. The hypothesis properties live in test_schedule_properties.py.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scheduler_core.schedule import (
    CronSchedule,
    IntervalSchedule,
    MisfirePlan,
    PlannedRun,
    Schedule,
    ScheduleError,
    build_schedule,
    describe_schedule,
    fire_times_between,
    next_fire_time,
    plan_due_runs,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def build(
    *,
    seconds: int | None = None,
    minutes: int | None = None,
    hours: int | None = None,
    days: int | None = None,
    cron: str | None = None,
    tz: str | None = None,
) -> Schedule:
    return build_schedule(
        interval_seconds=seconds,
        interval_minutes=minutes,
        interval_hours=hours,
        interval_days=days,
        cron_expression=cron,
        timezone=tz,
    )


# ------------------------------------------------------------------------------------------------
# build_schedule


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"seconds": 30}, IntervalSchedule(30)),
        ({"minutes": 30}, IntervalSchedule(1_800)),
        ({"hours": 2}, IntervalSchedule(7_200)),
        ({"days": 1}, IntervalSchedule(86_400)),
        ({"seconds": 30, "minutes": 1, "hours": 1, "days": 1}, IntervalSchedule(90_090)),
        # A zero field next to a positive one is fine: only the sum must be positive.
        ({"seconds": 0, "minutes": 30}, IntervalSchedule(1_800)),
        # A zone on an interval job is allowed and ignored, even a bogus one: interval jobs are zone-free.
        ({"minutes": 5, "tz": "Europe/Berlin"}, IntervalSchedule(300)),
        ({"minutes": 5, "tz": "Not/AZone"}, IntervalSchedule(300)),
        ({"cron": "0 2 * * *"}, CronSchedule("0 2 * * *", "UTC")),
        ({"cron": "0 2 * * *", "tz": "Europe/Berlin"}, CronSchedule("0 2 * * *", "Europe/Berlin")),
        ({"cron": "  */5  *  * * 1-5 "}, CronSchedule("*/5  *  * * 1-5", "UTC")),
        ({"cron": "@daily", "tz": "Asia/Kolkata"}, CronSchedule("@daily", "Asia/Kolkata")),
        # Feb 29 fires only in leap years: valid, it does fire.
        ({"cron": "0 0 29 2 *"}, CronSchedule("0 0 29 2 *", "UTC")),
    ],
)
def test_build_schedule_valid(kwargs: dict[str, object], expected: Schedule) -> None:
    assert build(**kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field", "reason_part"),
    [
        ({"minutes": 5, "cron": "* * * * *"}, "cronExpression", "not both"),
        ({"seconds": 0, "cron": "* * * * *"}, "cronExpression", "not both"),
        ({}, "intervalSeconds", "needs a schedule"),
        ({"tz": "Europe/Berlin"}, "intervalSeconds", "needs a schedule"),
        ({"seconds": -1}, "intervalSeconds", "negative"),
        ({"minutes": 5, "hours": -1}, "intervalHours", "negative"),
        ({"days": -3}, "intervalDays", "negative"),
        ({"minutes": -1, "cron": "* * * * *"}, "intervalMinutes", "negative"),
        ({"minutes": 0}, "intervalMinutes", "0 seconds"),
        ({"seconds": 0, "hours": 0}, "intervalSeconds", "0 seconds"),
        ({"seconds": 1.5}, "intervalSeconds", "whole number"),
        ({"minutes": True}, "intervalMinutes", "whole number"),
        ({"days": 40_000}, "intervalDays", "at most"),
        ({"cron": "0 0 32 * *"}, "cronExpression", "out of range"),
        ({"cron": "60 * * * *"}, "cronExpression", "out of range"),
        ({"cron": "*/0 * * * *"}, "cronExpression", "not a valid cron expression"),
        ({"cron": "a b c d e"}, "cronExpression", "not a valid cron expression"),
        ({"cron": "H * * * *"}, "cronExpression", "not a valid cron expression"),
        ({"cron": "0 0 * * * *"}, "cronExpression", "seconds and year fields are not supported"),
        ({"cron": "0 0 0 * * * 2030"}, "cronExpression", "seconds and year fields are not supported"),
        ({"cron": "* * * *"}, "cronExpression", "exactly 5 fields"),
        ({"cron": ""}, "cronExpression", "empty"),
        ({"cron": "   "}, "cronExpression", "empty"),
        ({"cron": "@reboot"}, "cronExpression", "@reboot"),
        ({"cron": "0 " * 60}, "cronExpression", "longer than 100"),
        ({"cron": "0 0 30 2 *"}, "cronExpression", "never fires"),
        ({"cron": "0 0 31 4,6,9,11 *"}, "cronExpression", "never fires"),
        ({"cron": "0 2 * * *", "tz": "Mars/Olympus_Mons"}, "timezone", "unknown time zone"),
        ({"cron": "0 2 * * *", "tz": "europe/berlin"}, "timezone", "unknown time zone"),
        ({"cron": "0 2 * * *", "tz": "../etc/passwd"}, "timezone", "unknown time zone"),
        ({"cron": "0 2 * * *", "tz": "/usr/share/zoneinfo/UTC"}, "timezone", "unknown time zone"),
        ({"cron": "0 2 * * *", "tz": ""}, "timezone", "IANA"),
        ({"cron": "0 2 * * *", "tz": "localtime"}, "timezone", "host"),
    ],
)
def test_build_schedule_errors(kwargs: dict[str, object], field: str, reason_part: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        build(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert reason_part in caught.value.reason
    assert str(caught.value) == f"{field}: {caught.value.reason}"


def test_schedule_error_is_a_picklable_value_error() -> None:
    error = ScheduleError("timezone", "unknown time zone 'X'")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.reason, str(copy)) == (
        "timezone",
        "unknown time zone 'X'",
        "timezone: unknown time zone 'X'",
    )


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: IntervalSchedule(0), "intervalSeconds"),
        (lambda: IntervalSchedule(-5), "intervalSeconds"),
        (lambda: CronSchedule("not cron"), "cronExpression"),
        (lambda: CronSchedule("0 2 * * *", "Nowhere/Land"), "timezone"),
    ],
)
def test_direct_construction_is_validated(make: object, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        make()  # type: ignore[operator]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("expression", "wildcard"),
    [
        ("* * * * *", True),
        ("*/5 1 * * *", True),  # MIN_STAR
        ("0 * * * *", True),  # HR_STAR
        ("30 */2 * * *", True),
        ("@hourly", True),  # Debian sets HR_STAR for @hourly
        ("0 2 * * *", False),
        ("0,30 1-3 * * *", False),
        ("0-59 2 * * *", False),  # a full range is not a star for Debian cron
        ("@daily", False),
        ("0 0 * * *", False),
    ],
)
def test_wildcard_classification(expression: str, wildcard: bool) -> None:
    assert CronSchedule(expression).is_wildcard is wildcard


# ------------------------------------------------------------------------------------------------
# describe_schedule


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (IntervalSchedule(1), "every 1 second"),
        (IntervalSchedule(45), "every 45 seconds"),
        (IntervalSchedule(60), "every 1 minute"),
        (IntervalSchedule(1_800), "every 30 minutes"),
        (IntervalSchedule(3_600), "every 1 hour"),
        (IntervalSchedule(5_400), "every 1 h 30 min"),
        (IntervalSchedule(172_800), "every 2 days"),
        (IntervalSchedule(90_061), "every 1 d 1 h 1 min 1 s"),
        (IntervalSchedule(90), "every 1 min 30 s"),
        (CronSchedule("0 2 * * *", "Europe/Berlin"), "cron 0 2 * * * (Europe/Berlin)"),
        (CronSchedule("*/5 * * * *"), "cron */5 * * * * (UTC)"),
    ],
)
def test_describe_schedule(schedule: Schedule, text: str) -> None:
    assert describe_schedule(schedule) == text


# ------------------------------------------------------------------------------------------------
# Interval jobs: fixed rate


T0 = utc(2025, 6, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("period", "after", "anchor", "expected"),
    [
        # No anchor: after + period.
        (60, T0, None, T0 + timedelta(seconds=60)),
        (60, T0 + timedelta(microseconds=7), None, T0 + timedelta(seconds=60, microseconds=7)),
        # Anchor in the future: the anchor itself, even when anchor - period is also after `after`.
        (60, T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=10)),
        (60, T0, T0 + timedelta(hours=5), T0 + timedelta(hours=5)),
        # Anchor in the past or equal: smallest anchor + k*period strictly after `after`.
        (60, T0, T0, T0 + timedelta(seconds=60)),
        (60, T0 + timedelta(seconds=59, microseconds=999_999), T0, T0 + timedelta(seconds=60)),
        (60, T0 + timedelta(seconds=60), T0, T0 + timedelta(seconds=120)),
        (60, T0 + timedelta(minutes=10, seconds=30), T0, T0 + timedelta(minutes=11)),
        (3_600, T0 + timedelta(days=3, minutes=1), T0, T0 + timedelta(days=3, hours=1)),
        # Anchor with sub-second part: fire instants keep it (no rounding, no drift).
        (
            7,
            T0 + timedelta(seconds=1_000_000),
            T0 + timedelta(milliseconds=250),
            T0 + timedelta(seconds=1_000_006, milliseconds=250),
        ),
    ],
)
def test_interval_next_fire_time(period: int, after: datetime, anchor: datetime | None, expected: datetime) -> None:
    result = next_fire_time(IntervalSchedule(period), after, anchor=anchor)
    assert result == expected
    assert result is not None
    assert result.tzinfo is UTC


def test_interval_is_fixed_rate_without_drift() -> None:
    # A timekeeper that is always 0.7 s late must not shift the grid: each next slot comes from the anchor.
    schedule = IntervalSchedule(10)
    anchor = utc(2025, 1, 1)
    slot = anchor
    for _ in range(5_000):
        slot_next = next_fire_time(schedule, slot + timedelta(milliseconds=700), anchor=anchor)
        assert slot_next == slot + timedelta(seconds=10)
        slot = slot_next
    assert slot == anchor + timedelta(seconds=50_000)


def test_interval_summed_fields_fire_on_the_summed_period() -> None:
    schedule = build(seconds=30, minutes=1, hours=1)
    assert next_fire_time(schedule, T0) == T0 + timedelta(hours=1, minutes=1, seconds=30)


def test_interval_beyond_calendar_is_none() -> None:
    assert next_fire_time(IntervalSchedule(2 * 86_400), utc(9999, 12, 31)) is None


# ------------------------------------------------------------------------------------------------
# Cron jobs: basics in UTC and in zones without a transition nearby


@pytest.mark.parametrize(
    ("expression", "tz", "after", "expected"),
    [
        ("0 2 * * *", "UTC", utc(2025, 1, 1), utc(2025, 1, 1, 2)),
        ("0 2 * * *", "UTC", utc(2025, 1, 1, 2), utc(2025, 1, 2, 2)),  # strictly after
        ("0 2 * * *", "UTC", utc(2025, 1, 1, 1, 59, 59, 999_999), utc(2025, 1, 1, 2)),
        ("*/5 * * * *", "UTC", utc(2025, 1, 1, 10, 2, 30), utc(2025, 1, 1, 10, 5)),
        ("*/5 * * * *", "UTC", utc(2025, 1, 1, 10, 5, 0, 1), utc(2025, 1, 1, 10, 10)),
        ("* * * * *", "UTC", utc(2025, 12, 31, 23, 59, 30), utc(2026, 1, 1)),
        ("0 0 1 * *", "UTC", utc(2025, 1, 31), utc(2025, 2, 1)),
        ("0 0 * * 1", "UTC", utc(2025, 1, 1), utc(2025, 1, 6)),  # 2025-01-01 is a Wednesday
        ("0 0 * * 7", "UTC", utc(2025, 1, 1), utc(2025, 1, 5)),  # 7 is Sunday too
        ("0 0 13 * 5", "UTC", utc(2025, 1, 1), utc(2025, 1, 3)),  # day-of-month OR day-of-week
        ("0 0 29 2 *", "UTC", utc(2025, 3, 1), utc(2028, 2, 29)),
        ("@hourly", "UTC", utc(2025, 1, 1, 10, 30), utc(2025, 1, 1, 11)),
        # Europe/Berlin: CET (+1) in winter, CEST (+2) in summer.
        ("0 2 * * *", "Europe/Berlin", utc(2025, 1, 15), utc(2025, 1, 15, 1)),
        ("0 2 * * *", "Europe/Berlin", utc(2025, 7, 14, 12), utc(2025, 7, 15, 0)),
        ("0 0 * * *", "Europe/Berlin", utc(2025, 7, 15, 12), utc(2025, 7, 15, 22)),
        # America/New_York: EST (-5) in winter, EDT (-4) in summer.
        ("0 9 * * *", "America/New_York", utc(2025, 1, 15), utc(2025, 1, 15, 14)),
        ("0 9 * * *", "America/New_York", utc(2025, 7, 15), utc(2025, 7, 15, 13)),
        ("0 22 * * 5", "America/New_York", utc(2025, 7, 15), utc(2025, 7, 19, 2)),  # Fri 22:00 EDT = Sat 02:00 UTC
        # Australia/Lord_Howe: +10:30 in the austral winter, +11 (a 30-minute shift) in summer.
        ("0 9 * * *", "Australia/Lord_Howe", utc(2025, 6, 15), utc(2025, 6, 15, 22, 30)),
        ("0 9 * * *", "Australia/Lord_Howe", utc(2025, 1, 15), utc(2025, 1, 15, 22)),
        # Asia/Kolkata: +05:30 all year.
        ("0 9 * * *", "Asia/Kolkata", utc(2025, 1, 15), utc(2025, 1, 15, 3, 30)),
        ("0 9 * * *", "Asia/Kolkata", utc(2025, 7, 15), utc(2025, 7, 15, 3, 30)),
        ("30 23 * * *", "Asia/Kolkata", utc(2025, 7, 15), utc(2025, 7, 15, 18)),
        ("*/45 * * * *", "Asia/Kolkata", utc(2025, 7, 15, 0, 1), utc(2025, 7, 15, 0, 15)),  # 05:45 IST
    ],
)
def test_cron_next_fire_time(expression: str, tz: str, after: datetime, expected: datetime) -> None:
    result = next_fire_time(CronSchedule(expression, tz), after)
    assert result == expected
    assert result is not None
    assert result.tzinfo is UTC


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 2 *"])
def test_cron_that_never_fires_is_none(expression: str) -> None:
    assert next_fire_time(CronSchedule(expression), utc(2025, 1, 1)) is None
    assert fire_times_between(CronSchedule(expression), utc(2025, 1, 1), utc(2030, 1, 1), limit=10) == []


@pytest.mark.parametrize(
    ("expression", "tz", "after"),
    [
        ("0 0 1 1 *", "Europe/Berlin", utc(9999, 6, 1)),
        ("* * * * *", "Pacific/Kiritimati", utc(9999, 12, 31, 23)),  # +14: no local time left at all
    ],
)
def test_cron_beyond_calendar_is_none(expression: str, tz: str, after: datetime) -> None:
    assert next_fire_time(CronSchedule(expression, tz), after) is None


def test_cron_anchor_is_ignored() -> None:
    schedule = CronSchedule("0 * * * *")
    assert next_fire_time(schedule, utc(2025, 1, 1, 10, 30), anchor=utc(2025, 1, 1, 10, 17)) == utc(2025, 1, 1, 11)


# ------------------------------------------------------------------------------------------------
# Cron jobs across DST transitions (Debian cron rules)
#
# Europe/Berlin: 2025-03-30 and 2026-03-29 at 01:00 UTC wall 02:00 CET -> 03:00 CEST (02:00-02:59 skipped);
#                2025-10-26 and 2026-10-25 at 01:00 UTC wall 03:00 CEST -> 02:00 CET (02:00-02:59 twice).
# America/New_York: 2025-03-09 and 2026-03-08 at 07:00 UTC wall 02:00 EST -> 03:00 EDT (02:xx skipped);
#                   2025-11-02 and 2026-11-01 at 06:00 UTC wall 02:00 EDT -> 01:00 EST (01:xx twice).
# Australia/Lord_Howe: 2025-04-05 15:00 UTC wall 02:00 +11 -> 01:30 +10:30 (01:30-01:59 twice);
#                      2025-10-04 15:30 UTC wall 02:00 +10:30 -> 02:30 +11 (02:00-02:29 skipped).

DST_CASES = [
    # --- spring forward, fixed-time: the skipped wall time runs once, at the transition instant
    pytest.param(
        "30 2 * * *", "Europe/Berlin", utc(2025, 3, 29), utc(2025, 4, 1),
        [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1), utc(2025, 3, 31, 0, 30)],
        id="berlin-2025-spring-fixed",
    ),
    pytest.param(
        "30 2 * * *", "Europe/Berlin", utc(2026, 3, 28), utc(2026, 3, 31),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)],
        id="berlin-2026-spring-fixed",
    ),
    pytest.param(
        "30 2 * * *", "America/New_York", utc(2025, 3, 8), utc(2025, 3, 11),
        [utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7), utc(2025, 3, 10, 6, 30)],
        id="newyork-2025-spring-fixed",
    ),
    pytest.param(
        "30 2 * * *", "America/New_York", utc(2026, 3, 7), utc(2026, 3, 10),
        [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)],
        id="newyork-2026-spring-fixed",
    ),
    # several skipped wall times of one fixed-time job collapse into one run
    pytest.param(
        "0,15,30,45 2 * * *", "Europe/Berlin", utc(2025, 3, 30), utc(2025, 3, 30, 23),
        [utc(2025, 3, 30, 1)],
        id="berlin-2025-spring-fixed-collapse",
    ),
    pytest.param(
        "0,30 2 * * *", "America/New_York", utc(2026, 3, 8, 5), utc(2026, 3, 8, 12),
        [utc(2026, 3, 8, 7)],
        id="newyork-2026-spring-fixed-collapse",
    ),
    # ...and with the wall time right after the gap (03:00 CEST is the transition instant itself)
    pytest.param(
        "0,30 2,3 * * *", "Europe/Berlin", utc(2025, 3, 29, 23), utc(2025, 3, 30, 3),
        [utc(2025, 3, 30, 1), utc(2025, 3, 30, 1, 30)],
        id="berlin-2025-spring-fixed-collapse-with-transition-wall",
    ),
    # --- spring forward, wildcard: skipped wall times simply have no run
    pytest.param(
        "30 * * * *", "Europe/Berlin", utc(2025, 3, 30), utc(2025, 3, 30, 3),
        [utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1, 30), utc(2025, 3, 30, 2, 30)],  # 01:30 CET, 03:30, 04:30 CEST
        id="berlin-2025-spring-wildcard",
    ),
    pytest.param(
        "15 */2 * * *", "Europe/Berlin", utc(2026, 3, 28, 22), utc(2026, 3, 29, 3),
        [utc(2026, 3, 28, 23, 15), utc(2026, 3, 29, 2, 15)],  # 00:15 CET, (02:15 skipped), 04:15 CEST
        id="berlin-2026-spring-wildcard-hour-step",
    ),
    pytest.param(
        "30 * * * *", "America/New_York", utc(2025, 3, 9, 5), utc(2025, 3, 9, 9),
        [utc(2025, 3, 9, 5, 30), utc(2025, 3, 9, 6, 30), utc(2025, 3, 9, 7, 30), utc(2025, 3, 9, 8, 30)],
        id="newyork-2025-spring-wildcard",
    ),
    pytest.param(
        "*/20 2 * * *", "America/New_York", utc(2026, 3, 7, 12), utc(2026, 3, 9, 12),
        # nothing on 03-08 (02:00-02:59 skipped; a fixed-time job would run at 07:00 UTC); 03-09 02:xx EDT
        [utc(2026, 3, 9, 6), utc(2026, 3, 9, 6, 20), utc(2026, 3, 9, 6, 40)],
        id="newyork-2026-spring-wildcard-minute-step",
    ),
    # --- fall back, fixed-time: once, at the first occurrence
    pytest.param(
        "30 2 * * *", "Europe/Berlin", utc(2025, 10, 25), utc(2025, 10, 28),
        [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)],
        id="berlin-2025-fall-fixed",
    ),
    pytest.param(
        "30 2 * * *", "Europe/Berlin", utc(2026, 10, 24), utc(2026, 10, 27),
        [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        id="berlin-2026-fall-fixed",
    ),
    pytest.param(
        "30 1 * * *", "America/New_York", utc(2025, 11, 1), utc(2025, 11, 4),
        [utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)],
        id="newyork-2025-fall-fixed",
    ),
    pytest.param(
        "30 1 * * *", "America/New_York", utc(2026, 10, 31), utc(2026, 11, 3),
        [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
        id="newyork-2026-fall-fixed",
    ),
    pytest.param(
        "0 0-3 * * *", "America/New_York", utc(2025, 11, 2, 3), utc(2025, 11, 2, 9),
        [utc(2025, 11, 2, 4), utc(2025, 11, 2, 5), utc(2025, 11, 2, 7), utc(2025, 11, 2, 8)],  # no 01:00 EST
        id="newyork-2025-fall-fixed-hour-range",
    ),
    # --- fall back, wildcard: both passes
    pytest.param(
        "*/15 * * * *", "America/New_York", utc(2025, 11, 2, 4, 45), utc(2025, 11, 2, 7),
        [utc(2025, 11, 2, 4, 45) + timedelta(minutes=15 * k) for k in range(10)],  # every 15 real minutes
        id="newyork-2025-fall-wildcard",
    ),
    pytest.param(
        "*/20 1 * * *", "America/New_York", utc(2026, 11, 1), utc(2026, 11, 1, 12),
        # minute starts with '*': MIN_STAR, so wildcard although the hour is fixed
        [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 20), utc(2026, 11, 1, 5, 40),
         utc(2026, 11, 1, 6), utc(2026, 11, 1, 6, 20), utc(2026, 11, 1, 6, 40)],
        id="newyork-2026-fall-wildcard-minute-step",
    ),
    pytest.param(
        "30 * * * *", "Europe/Berlin", utc(2025, 10, 25, 23), utc(2025, 10, 26, 3),
        # 01:30 CEST, 02:30 CEST, 02:30 CET, 03:30 CET
        [utc(2025, 10, 25, 23, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30), utc(2025, 10, 26, 2, 30)],
        id="berlin-2025-fall-wildcard",
    ),
    pytest.param(
        "0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23), utc(2026, 10, 25, 3),
        [utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2), utc(2026, 10, 25, 3)],
        id="berlin-2026-fall-wildcard",
    ),
    # --- Lord Howe: 30-minute shifts
    pytest.param(
        "*/15 * * * *", "Australia/Lord_Howe", utc(2025, 4, 5, 14), utc(2025, 4, 5, 15, 40),
        # 01:00 01:15 01:30 01:45 (+11), 01:30 01:45 (+10:30), 02:00 (+10:30)
        [utc(2025, 4, 5, 14) + timedelta(minutes=15 * k) for k in range(7)],
        id="lordhowe-2025-fall-wildcard",
    ),
    pytest.param(
        "45 1 * * *", "Australia/Lord_Howe", utc(2025, 4, 5, 12), utc(2025, 4, 5, 18),
        [utc(2025, 4, 5, 14, 45)],  # the first 01:45 (+11) only
        id="lordhowe-2025-fall-fixed",
    ),
    pytest.param(
        "15 2 * * *", "Australia/Lord_Howe", utc(2025, 10, 3), utc(2025, 10, 6),
        # 02:15 +10:30 on 10-04; on 10-05 02:15 is skipped -> transition 02:30 +11 = 15:30 UTC; 02:15 +11 on 10-06
        [utc(2025, 10, 3, 15, 45), utc(2025, 10, 4, 15, 30), utc(2025, 10, 5, 15, 15)],
        id="lordhowe-2025-spring-fixed",
    ),
    pytest.param(
        "10 * * * *", "Australia/Lord_Howe", utc(2025, 10, 4, 14), utc(2025, 10, 4, 17),
        [utc(2025, 10, 4, 14, 40), utc(2025, 10, 4, 16, 10)],  # 01:10 +10:30, (02:10 skipped), 03:10 +11
        id="lordhowe-2025-spring-wildcard",
    ),
    # --- Asia/Kolkata: no DST, the same wall time every day
    pytest.param(
        "30 2 * * *", "Asia/Kolkata", utc(2025, 3, 28), utc(2025, 4, 1),
        [utc(2025, 3, d, 21) for d in (28, 29, 30, 31)],
        id="kolkata-no-dst",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("expression", "tz", "start", "end", "expected"), DST_CASES)
def test_cron_dst_rules(expression: str, tz: str, start: datetime, end: datetime, expected: list[datetime]) -> None:
    schedule = CronSchedule(expression, tz)
    assert fire_times_between(schedule, start, end, limit=100) == expected
    # The same instants one next_fire_time call at a time.
    walked: list[datetime] = []
    cursor = start - timedelta(microseconds=1)
    while (found := next_fire_time(schedule, cursor)) is not None and found <= end:
        walked.append(found)
        cursor = found
    assert walked == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Inside the first pass of 01:xx EDT the next run is still in the first pass...
        (utc(2025, 11, 2, 5, 20), utc(2025, 11, 2, 5, 30)),
        # ...from its last slot the next one is the second pass, which lies at an earlier wall time.
        (utc(2025, 11, 2, 5, 50), utc(2025, 11, 2, 6)),
        (utc(2025, 11, 2, 6, 5), utc(2025, 11, 2, 6, 15)),
    ],
)
def test_next_fire_time_inside_a_fold(after: datetime, expected: datetime) -> None:
    assert next_fire_time(CronSchedule("*/15 * * * *", "America/New_York"), after) == expected


def test_fixed_time_after_the_first_pass_waits_for_the_next_day() -> None:
    # 01:30 EDT already fired at 05:30 UTC; during the second pass (01:30 EST = 06:30 UTC) it must not.
    schedule = CronSchedule("30 1 * * *", "America/New_York")
    assert next_fire_time(schedule, utc(2025, 11, 2, 5, 30)) == utc(2025, 11, 3, 6, 30)


# ------------------------------------------------------------------------------------------------
# fire_times_between


def test_fire_times_between_interval_includes_both_ends() -> None:
    schedule = IntervalSchedule(60)
    assert fire_times_between(schedule, T0, T0 + timedelta(seconds=120), limit=10, anchor=T0) == [
        T0,
        T0 + timedelta(seconds=60),
        T0 + timedelta(seconds=120),
    ]


def test_fire_times_between_interval_anchor_defaults_to_start() -> None:
    schedule = IntervalSchedule(60)
    start = T0 + timedelta(seconds=7)
    assert fire_times_between(schedule, start, start + timedelta(minutes=2), limit=10) == [
        start,
        start + timedelta(seconds=60),
        start + timedelta(seconds=120),
    ]


def test_fire_times_between_interval_future_anchor_is_the_first_instant() -> None:
    schedule = IntervalSchedule(60)
    assert fire_times_between(
        schedule, T0, T0 + timedelta(seconds=200), limit=10, anchor=T0 + timedelta(seconds=90)
    ) == [
        T0 + timedelta(seconds=90),
        T0 + timedelta(seconds=150),
    ]


def test_fire_times_between_cron_includes_both_ends_and_respects_limit() -> None:
    schedule = CronSchedule("0 * * * *")
    start, end = utc(2025, 1, 1, 10), utc(2025, 1, 1, 12)
    assert fire_times_between(schedule, start, end, limit=10) == [utc(2025, 1, 1, h) for h in (10, 11, 12)]
    assert fire_times_between(schedule, start, end, limit=2) == [utc(2025, 1, 1, h) for h in (10, 11)]
    assert fire_times_between(schedule, start, end, limit=0) == []
    assert fire_times_between(schedule, end, start, limit=10) == []


def test_fire_times_between_rejects_negative_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        fire_times_between(IntervalSchedule(1), T0, T0, limit=-1)


# ------------------------------------------------------------------------------------------------
# Time zone handling of the arguments


NAIVE = datetime(2025, 1, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: next_fire_time(IntervalSchedule(60), NAIVE),
        lambda: next_fire_time(IntervalSchedule(60), T0, anchor=NAIVE),
        lambda: next_fire_time(CronSchedule("* * * * *"), NAIVE),
        lambda: fire_times_between(CronSchedule("* * * * *"), NAIVE, T0, limit=1),
        lambda: fire_times_between(CronSchedule("* * * * *"), T0, NAIVE, limit=1),
        lambda: plan_due_runs(IntervalSchedule(60), NAIVE, T0, misfire_grace_time=0, coalesce=True),
        lambda: plan_due_runs(IntervalSchedule(60), T0, NAIVE, misfire_grace_time=0, coalesce=True),
    ],
)
def test_naive_datetimes_are_rejected(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()  # type: ignore[operator]


def test_aware_non_utc_input_is_converted_and_output_is_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    after = datetime(2025, 1, 1, 3, 0, tzinfo=plus_two)  # 01:00 UTC
    result = next_fire_time(CronSchedule("30 * * * *"), after)
    assert result == utc(2025, 1, 1, 1, 30)
    assert result is not None
    assert result.tzinfo is UTC
    interval_result = next_fire_time(IntervalSchedule(60), after)
    assert interval_result is not None
    assert interval_result.tzinfo is UTC


# ------------------------------------------------------------------------------------------------
# plan_due_runs


def run(at: datetime, count: int = 1, first: datetime | None = None) -> PlannedRun:
    return PlannedRun(scheduled_at=at, coalesced_count=count, coalesced_from=first)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


MINUTE_JOB = IntervalSchedule(60)

PLAN_CASES = [
    pytest.param(
        MINUTE_JOB, T0, T0 - seconds(1), 60, True,
        MisfirePlan(run=[], missed=[], next_run_at=T0, truncated=False),
        id="nothing-due",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0, 60, True,
        MisfirePlan(run=[run(T0)], missed=[], next_run_at=T0 + seconds(60), truncated=False),
        id="due-exactly-now",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(5), 60, False,
        MisfirePlan(run=[run(T0)], missed=[], next_run_at=T0 + seconds(60), truncated=False),
        id="one-on-time-slot",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(150), 3_600, False,
        MisfirePlan(
            run=[run(T0), run(T0 + seconds(60)), run(T0 + seconds(120))], missed=[],
            next_run_at=T0 + seconds(180), truncated=False,
        ),
        id="several-on-time-no-coalesce",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(150), 3_600, True,
        MisfirePlan(run=[run(T0 + seconds(120), 3, T0)], missed=[], next_run_at=T0 + seconds(180), truncated=False),
        id="several-on-time-coalesce",
    ),
    # Slots T0 .. T0+300 are 310, 250, 190, 130, 70, 10 s late at now; grace 120.
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(310), 120, False,
        MisfirePlan(
            run=[run(T0 + seconds(240)), run(T0 + seconds(300))],
            missed=[run(T0), run(T0 + seconds(60)), run(T0 + seconds(120)), run(T0 + seconds(180))],
            next_run_at=T0 + seconds(360), truncated=False,
        ),
        id="late-and-on-time-no-coalesce",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(310), 120, True,
        MisfirePlan(
            run=[run(T0 + seconds(300), 2, T0 + seconds(240))],
            missed=[run(T0 + seconds(180), 4, T0)],
            next_run_at=T0 + seconds(360), truncated=False,
        ),
        id="late-and-on-time-coalesce",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(130), 0, True,
        MisfirePlan(
            run=[], missed=[run(T0 + seconds(120), 3, T0)], next_run_at=T0 + seconds(180), truncated=False,
        ),
        id="all-late-coalesce",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(100), 30, True,  # 100 s and 40 s late
        MisfirePlan(run=[], missed=[run(T0 + seconds(60), 2, T0)], next_run_at=T0 + seconds(120), truncated=False),
        id="latest-slot-late-too",
    ),
    # Whole-second lateness: grace 0 tolerates 0.5 s, not 1.5 s (nor exactly 1 s).
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(0.5), 0, True,
        MisfirePlan(run=[run(T0)], missed=[], next_run_at=T0 + seconds(60), truncated=False),
        id="grace-0-half-second-late-runs",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(1.5), 0, True,
        MisfirePlan(run=[], missed=[run(T0)], next_run_at=T0 + seconds(60), truncated=False),
        id="grace-0-one-and-a-half-seconds-late-missed",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(1), 0, True,
        MisfirePlan(run=[], missed=[run(T0)], next_run_at=T0 + seconds(60), truncated=False),
        id="grace-0-one-second-late-missed",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + timedelta(seconds=60, microseconds=999_999), 60, True,
        MisfirePlan(run=[run(T0 + seconds(60), 2, T0)], missed=[], next_run_at=T0 + seconds(120), truncated=False),
        id="grace-60-at-60.999999-runs",
    ),
    pytest.param(
        MINUTE_JOB, T0, T0 + seconds(61), 60, True,
        MisfirePlan(run=[run(T0 + seconds(60))], missed=[run(T0)], next_run_at=T0 + seconds(120), truncated=False),
        id="grace-60-at-61-missed",
    ),
    # Cron: hourly, 3.5 h behind, grace 1 h: 10:00, 11:00, 12:00 late; 13:00 on time.
    pytest.param(
        CronSchedule("0 * * * *"), utc(2025, 1, 1, 10), utc(2025, 1, 1, 13, 30), 3_600, True,
        MisfirePlan(
            run=[run(utc(2025, 1, 1, 13))], missed=[run(utc(2025, 1, 1, 12), 3, utc(2025, 1, 1, 10))],
            next_run_at=utc(2025, 1, 1, 14), truncated=False,
        ),
        id="cron-coalesce",
    ),
    # Cron across the New York fall-back with a wildcard job: both 01:30 passes are slots.
    pytest.param(
        CronSchedule("30 * * * *", "America/New_York"), utc(2025, 11, 2, 4, 30), utc(2025, 11, 2, 7), 3_600, False,
        MisfirePlan(
            run=[run(utc(2025, 11, 2, 6, 30))],
            missed=[run(utc(2025, 11, 2, 4, 30)), run(utc(2025, 11, 2, 5, 30))],
            next_run_at=utc(2025, 11, 2, 7, 30), truncated=False,
        ),
        id="cron-fall-back-wildcard",
    ),
    # A cron job that can never fire again: its stale slot is handled and next_run_at becomes None.
    pytest.param(
        CronSchedule("0 0 30 2 *"), utc(2025, 1, 1), utc(2025, 1, 1, 0, 0, 5), 60, True,
        MisfirePlan(run=[run(utc(2025, 1, 1))], missed=[], next_run_at=None, truncated=False),
        id="cron-never-again",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("schedule", "next_run_at", "now", "grace", "coalesce", "expected"), PLAN_CASES)
def test_plan_due_runs(
    schedule: Schedule, next_run_at: datetime, now: datetime, grace: int, coalesce: bool, expected: MisfirePlan
) -> None:
    plan = plan_due_runs(schedule, next_run_at, now, misfire_grace_time=grace, coalesce=coalesce)
    assert plan == expected


def test_plan_due_runs_exactly_limit_slots_is_not_truncated() -> None:
    plan = plan_due_runs(MINUTE_JOB, T0, T0 + seconds(150), misfire_grace_time=3_600, coalesce=False, limit=3)
    assert plan == MisfirePlan(
        run=[run(T0), run(T0 + seconds(60)), run(T0 + seconds(120))],
        missed=[],
        next_run_at=T0 + seconds(180),
        truncated=False,
    )


def test_plan_due_runs_one_slot_over_limit_is_truncated() -> None:
    plan = plan_due_runs(MINUTE_JOB, T0, T0 + seconds(180), misfire_grace_time=3_600, coalesce=True, limit=3)
    assert plan == MisfirePlan(
        run=[run(T0 + seconds(120), 3, T0)], missed=[], next_run_at=T0 + seconds(180), truncated=True
    )


@pytest.mark.parametrize("coalesce", [False, True])
def test_plan_due_runs_truncation_continues_without_loss_or_overlap(coalesce: bool) -> None:
    # A 1 s job whose timekeeper was away for 10,000 s: slots T0 .. T0+10,000 (10,001 of them).
    schedule = IntervalSchedule(1)
    now = T0 + seconds(10_000)
    cursor: datetime | None = T0
    passes: list[MisfirePlan] = []
    while cursor is not None and cursor <= now:
        plan = plan_due_runs(schedule, cursor, now, misfire_grace_time=60, coalesce=coalesce, limit=1_000)
        passes.append(plan)
        if plan.truncated:
            assert plan.next_run_at is not None
            assert plan.next_run_at <= now
        cursor = plan.next_run_at
    assert len(passes) == 11
    assert [p.truncated for p in passes] == [True] * 10 + [False]
    assert passes[0].next_run_at == T0 + seconds(1_000)
    assert cursor == now + seconds(1)

    rows = [row for p in passes for row in (*p.missed, *p.run)]
    # Conservation: every slot accounted for exactly once.
    assert sum(row.coalesced_count for row in rows) == 10_001
    # No overlap: rows (and the slot ranges they stand for) are strictly increasing across passes.
    covered: list[datetime] = []
    for row in rows:
        first = row.coalesced_from or row.scheduled_at
        covered.extend(first + seconds(k) for k in range(row.coalesced_count))
        assert covered[-1] == row.scheduled_at
    assert covered == [T0 + seconds(k) for k in range(10_001)]
    # Lateness: slots up to T0+9,939 are more than 60 s late.
    missed = sum(row.coalesced_count for p in passes for row in p.missed)
    ran = sum(row.coalesced_count for p in passes for row in p.run)
    assert (missed, ran) == (9_940, 61)
    if coalesce:
        assert all(len(p.run) <= 1 and len(p.missed) <= 1 for p in passes)
    else:
        assert all(row.coalesced_count == 1 and row.coalesced_from is None for row in rows)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"misfire_grace_time": -1, "coalesce": True}, "misfire_grace_time"),
        ({"misfire_grace_time": 0, "coalesce": True, "limit": 0}, "limit"),
    ],
)
def test_plan_due_runs_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_due_runs(MINUTE_JOB, T0, T0, **kwargs)  # type: ignore[arg-type]


# plan_due_runs with a horizon: slots planned ahead of their time


def test_plan_due_runs_takes_slots_up_to_the_horizon_and_judges_lateness_at_now() -> None:
    # The slot 40 ms ahead of now is planned (never late); next_run_at moves past the horizon.
    plan = plan_due_runs(
        IntervalSchedule(1), T0, T0 - seconds(0.04), misfire_grace_time=0, coalesce=False, horizon=T0 + seconds(0.01)
    )
    assert plan == MisfirePlan(run=[run(T0)], missed=[], next_run_at=T0 + seconds(1), truncated=False)


def test_plan_due_runs_before_the_horizon_is_nothing_due() -> None:
    plan = plan_due_runs(
        MINUTE_JOB, T0, T0 - seconds(1), misfire_grace_time=0, coalesce=True, horizon=T0 - seconds(0.5)
    )
    assert plan == MisfirePlan(run=[], missed=[], next_run_at=T0, truncated=False)


def test_plan_due_runs_with_a_horizon_still_misses_late_slots() -> None:
    # Two late slots missed, the on-time ones (one of them ahead of now) folded into one run at the latest.
    plan = plan_due_runs(
        IntervalSchedule(1), T0, T0 + seconds(3.5), misfire_grace_time=1, coalesce=True, horizon=T0 + seconds(4)
    )
    assert plan == MisfirePlan(
        run=[run(T0 + seconds(4), 3, T0 + seconds(2))],
        missed=[run(T0 + seconds(1), 2, T0)],
        next_run_at=T0 + seconds(5),
        truncated=False,
    )


def test_plan_due_runs_refuses_a_horizon_before_now() -> None:
    with pytest.raises(ValueError, match="horizon must not be before now"):
        plan_due_runs(MINUTE_JOB, T0, T0, misfire_grace_time=0, coalesce=True, horizon=T0 - seconds(1))

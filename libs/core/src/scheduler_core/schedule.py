"""Pure schedule maths: validate schedules, compute fire instants, plan due and missed runs.

Nothing here reads a clock, a file of our own or a database: every instant is passed in, which is
what lets the timekeeper take "now" from the database clock and lets the tests pin every case.

Conventions:

* Every ``datetime`` going in must be timezone-aware (naive ones raise ``ValueError``); any offset is
  accepted and converted, every ``datetime`` coming out carries ``tzinfo=datetime.UTC``.
* Interval jobs are zone-free and fixed-rate: their fire instants are ``anchor + k * period``.
* Cron jobs are evaluated on the wall clock of their IANA time zone with Debian cron's daylight-saving
  rules (see ``next_fire_time``). croniter only ever sees *naive* wall-clock times, where its iteration is
  exact; mapping wall times to UTC instants across gaps and folds is done here with ``zoneinfo``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "MisfirePlan",
    "PlannedRun",
    "Schedule",
    "ScheduleError",
    "build_schedule",
    "describe_schedule",
    "fire_times_between",
    "next_fire_time",
    "plan_due_runs",
]

_SECOND: Final = timedelta(seconds=1)
_MINUTE: Final = timedelta(minutes=1)
_MICROSECOND: Final = timedelta(microseconds=1)

# Upper bound of an interval period, in seconds (about 100 years). Larger periods only overflow
# `datetime` arithmetic; no operator means them.
_MAX_PERIOD_SECONDS: Final = 36_500 * 86_400

# The database column cron_expression is String(100); reject longer text here rather than in SQL.
_MAX_CRON_LENGTH: Final = 100

# The @-aliases Debian cron understands (croniter knows the same set), expanded to their five fields
# so that the wildcard test below sees what cron sees: Debian sets HR_STAR for @hourly only.
_CRON_ALIASES: Final = MappingProxyType(
    {
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    }
)

# Zone keys that resolve on some hosts but name the host's own setting, not an IANA zone: a job using
# them would fire at different instants on different timekeepers.
_HOST_DEPENDENT_ZONES: Final = frozenset({"localtime", "posixrules"})

# Widest spread of UTC offsets in the tz database (-12:00 .. +14:00, plus LMT slack), in hours. Used to
# bound how far back, in wall-clock time, a fire instant after a given instant can lie.
_OFFSET_SPREAD_HOURS: Final = 29

# How far croniter searches for a matching date before declaring that an expression never fires, in
# years. Five-field cron repeats with the calendar; its longest real gap is Feb 29 across 2100 (8 years).
_CRON_SEARCH_YEARS: Final = 50

# Fixed reference wall time for build_schedule's "does it ever fire" check, so that the check is pure.
_NEVER_FIRES_PROBE: Final = datetime(2000, 1, 1)  # naive on purpose: croniter walks wall-clock time


class ScheduleError(ValueError):
    """Invalid schedule definition.

    ``field`` is the camelCase API field name it concerns (``"cronExpression"``, ``"timezone"``,
    ``"intervalSeconds"``, ``"intervalMinutes"``, ``"intervalHours"``, ``"intervalDays"``);
    ``reason`` is a human sentence fit for a field-level 4xx message.
    """

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[ScheduleError], tuple[str, str]]:
        # The default reduction would call ScheduleError(message) and fail: keep it picklable.
        return (type(self), (self.field, self.reason))


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Fixed-rate schedule: fire instants are ``anchor + k * period_seconds``; zone-free."""

    period_seconds: int  # > 0; sum of the job's interval_seconds/minutes/hours/days fields, in seconds

    def __post_init__(self) -> None:
        period = self.period_seconds
        if isinstance(period, bool) or not isinstance(period, int):
            raise ScheduleError("intervalSeconds", f"the interval must be a whole number of seconds, got {period!r}")
        if period <= 0:
            raise ScheduleError("intervalSeconds", f"the interval must be at least 1 second, got {period}")
        if period > _MAX_PERIOD_SECONDS:
            raise ScheduleError(
                "intervalSeconds",
                f"the interval must be at most {_MAX_PERIOD_SECONDS // 86_400} days, got {period} seconds",
            )

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.period_seconds)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Standard 5-field cron expression evaluated on the wall clock of ``timezone`` (IANA name).

    Construction validates both fields and raises ``ScheduleError`` (syntax only; ``build_schedule``
    additionally rejects expressions that can never fire).
    """

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        _cron_fields(self.expression)
        _load_zone(self.timezone)

    @property
    def is_wildcard(self) -> bool:
        """Debian cron's MIN_STAR/HR_STAR: the minute or the hour field starts with ``*``.

        Wildcard jobs follow the wall clock through DST changes (no runs for skipped wall times, runs in
        both passes of repeated ones); the others are fixed-time jobs that run once per wall time.
        """
        minute, hour = _split_cron(self.expression)[:2]
        return minute.startswith("*") or hour.startswith("*")


Schedule = IntervalSchedule | CronSchedule


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One execution row to write."""

    scheduled_at: datetime  # the slot the execution row is written for (UTC)
    coalesced_count: int  # how many slots this row stands for (>= 1)
    coalesced_from: datetime | None  # earliest slot folded into it, None when coalesced_count == 1


@dataclass(frozen=True, slots=True)
class MisfirePlan:
    """What to do with the due slots of one job; see ``plan_due_runs``."""

    run: list[PlannedRun]  # rows to write as pending (to execute), ascending
    missed: list[PlannedRun]  # rows to write with status "missed", ascending
    next_run_at: datetime | None  # the job's new next_run_at
    truncated: bool  # True when `limit` cut the slot walk; next_run_at is then the first unhandled slot


# --------------------------------------------------------------------------------------------------
# Validation and construction


def _split_cron(expression: str) -> list[str]:
    """Whitespace-separated fields of ``expression`` with an @-alias expanded; no validation."""
    text = expression.strip()
    return _CRON_ALIASES.get(text.lower(), text).split()


def _cron_fields(expression: str) -> list[str]:
    """The five fields of ``expression`` (aliases expanded), or ``ScheduleError("cronExpression")``."""
    if not isinstance(expression, str):
        raise ScheduleError("cronExpression", f"the cron expression must be text, got {expression!r}")
    text = expression.strip()
    if not text:
        raise ScheduleError("cronExpression", "the cron expression is empty")
    if len(text) > _MAX_CRON_LENGTH:
        raise ScheduleError("cronExpression", f"the cron expression is longer than {_MAX_CRON_LENGTH} characters")
    if text.lower() == "@reboot":
        raise ScheduleError("cronExpression", "@reboot is not a time schedule and is not supported")
    fields = _split_cron(text)
    if len(fields) != 5:
        extra = " (seconds and year fields are not supported)" if len(fields) in (6, 7) else ""
        raise ScheduleError(
            "cronExpression",
            f"a cron expression has exactly 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}{extra}",
        )
    try:
        croniter(text, _NEVER_FIRES_PROBE)
    except CroniterError as exc:
        raise ScheduleError("cronExpression", f"not a valid cron expression: {exc}") from exc
    return fields


def _load_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or ``ScheduleError("timezone")``."""
    if not isinstance(name, str) or not name:
        raise ScheduleError("timezone", f"the time zone must be an IANA zone name, got {name!r}")
    if name in _HOST_DEPENDENT_ZONES:
        raise ScheduleError(
            "timezone",
            f"{name!r} names the host's own setting; use an IANA zone name such as 'Europe/Berlin'",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(
            "timezone", f"unknown time zone {name!r}; use an IANA zone name such as 'Europe/Berlin'"
        ) from exc


def _never_fires(expression: str) -> bool:
    """True if the expression matches no date at all (e.g. Feb 30), checked from a fixed wall time."""
    try:
        croniter(expression, _NEVER_FIRES_PROBE, max_years_between_matches=_CRON_SEARCH_YEARS).get_next(datetime)
    except CroniterBadDateError:
        return True
    return False


# A job's schedule columns, as build_schedule takes them (the API's bodies use the same names).
SCHEDULE_FIELDS: Final = (
    "interval_seconds",
    "interval_minutes",
    "interval_hours",
    "interval_days",
    "cron_expression",
    "timezone",
)
INTERVAL_FIELDS: Final = SCHEDULE_FIELDS[:4]


def schedule_from_fields(fields: Mapping[str, Any]) -> Schedule:
    """build_schedule over the SCHEDULE_FIELDS of a mapping (a missing field counts as not given)."""
    return build_schedule(**{name: fields.get(name) for name in SCHEDULE_FIELDS})


def schedule_of(job: object) -> Schedule:
    """build_schedule over the SCHEDULE_FIELDS attributes of a stored job (an ORM row or a claimed job)."""
    return build_schedule(**{name: getattr(job, name) for name in SCHEDULE_FIELDS})


def build_schedule(
    *,
    interval_seconds: int | None,
    interval_minutes: int | None,
    interval_hours: int | None,
    interval_days: int | None,
    cron_expression: str | None,
    timezone: str | None,
) -> Schedule:
    """Validate a job's schedule fields and build its schedule.

    A field counts as given when it is not None. Exactly one kind must be given: one or more interval
    fields (summed; each >= 0, the sum > 0) or ``cron_expression`` (5 fields, or an @-alias such as
    ``@daily``). ``timezone`` defaults to UTC for cron jobs and is ignored (not even validated) for
    interval jobs, which are zone-free. Raises ``ScheduleError`` naming the offending API field:
    both kinds given -> "cronExpression"; neither -> "intervalSeconds"; a negative or non-integer
    interval field -> that field; an interval summing to 0 -> the first given interval field; a
    malformed, 6/7-field or never-firing cron expression -> "cronExpression"; an unknown zone ->
    "timezone".
    """
    units = (
        ("intervalSeconds", interval_seconds, 1),
        ("intervalMinutes", interval_minutes, 60),
        ("intervalHours", interval_hours, 3_600),
        ("intervalDays", interval_days, 86_400),
    )
    given = [(name, value, unit) for name, value, unit in units if value is not None]
    for name, value, _unit in given:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScheduleError(name, f"must be a whole number, got {value!r}")
        if value < 0:
            raise ScheduleError(name, f"must not be negative, got {value}")

    if cron_expression is not None and given:
        names = ", ".join(name for name, _value, _unit in given)
        raise ScheduleError(
            "cronExpression", f"give either a cron expression or an interval, not both (also got {names})"
        )
    if cron_expression is None and not given:
        raise ScheduleError(
            "intervalSeconds",
            "a job needs a schedule: set cronExpression, or at least one of "
            "intervalSeconds, intervalMinutes, intervalHours, intervalDays",
        )

    if given:
        # Sum in seconds; days are exactly 86,400 s because interval jobs are zone-free.
        total = sum(value * unit for _name, value, unit in given if value is not None)
        if total == 0:
            raise ScheduleError(given[0][0], "the interval adds up to 0 seconds; at least one field must be > 0")
        if total > _MAX_PERIOD_SECONDS:
            largest = max(given, key=lambda item: (item[1] or 0) * item[2])
            raise ScheduleError(
                largest[0], f"the interval must be at most {_MAX_PERIOD_SECONDS // 86_400} days in total"
            )
        return IntervalSchedule(period_seconds=total)

    assert cron_expression is not None  # narrowed by the checks above
    schedule = CronSchedule(expression=cron_expression.strip(), timezone="UTC" if timezone is None else timezone)
    if _never_fires(schedule.expression):
        raise ScheduleError(
            "cronExpression",
            f"{schedule.expression!r} never fires: no date matches it within {_CRON_SEARCH_YEARS} years",
        )
    return schedule


# --------------------------------------------------------------------------------------------------
# Description


def describe_schedule(schedule: Schedule) -> str:
    """Short English words for the dashboard and CLI.

    Interval: one unit -> ``"every 30 minutes"``, ``"every 1 hour"``; mixed units ->
    ``"every 1 h 30 min"`` (units d, h, min, s). Cron: ``"cron 0 2 * * * (Europe/Berlin)"``.
    """
    if isinstance(schedule, CronSchedule):
        return f"cron {schedule.expression} ({schedule.timezone})"
    remaining = schedule.period_seconds
    parts: list[tuple[int, str, str]] = []
    for unit_seconds, short, long in (
        (86_400, "d", "day"),
        (3_600, "h", "hour"),
        (60, "min", "minute"),
        (1, "s", "second"),
    ):
        count, remaining = divmod(remaining, unit_seconds)
        if count:
            parts.append((count, short, long))
    if len(parts) == 1:
        count, _short, long = parts[0]
        return f"every {count} {long}{'' if count == 1 else 's'}"
    return "every " + " ".join(f"{count} {short}" for count, short, _long in parts)


# --------------------------------------------------------------------------------------------------
# Fire instants


def _as_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


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
    wall time increases, which is what lets ``_cron_instants`` emit instants in order.
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


def _cron_instants(schedule: CronSchedule, after: datetime) -> Iterator[datetime]:
    """Fire instants of ``schedule`` strictly after ``after`` (UTC), strictly increasing, lazily.

    Ends when croniter finds no matching wall time within ``_CRON_SEARCH_YEARS`` years or the calendar
    runs out (year 9999).
    """
    zone = _load_zone(schedule.timezone)
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
    walls = croniter(schedule.expression, start_wall, max_years_between_matches=_CRON_SEARCH_YEARS)

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


def _instants(schedule: Schedule, after: datetime, anchor: datetime | None) -> Iterator[datetime]:
    if isinstance(schedule, CronSchedule):
        return _cron_instants(schedule, after)
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
    after = _as_utc(after, "after")
    anchor = None if anchor is None else _as_utc(anchor, "anchor")
    return next(_instants(schedule, after, anchor), None)


def fire_times_between(
    schedule: Schedule, start: datetime, end: datetime, *, limit: int, anchor: datetime | None = None
) -> list[datetime]:
    """Fire instants t with ``start <= t <= end`` (both inclusive), ascending, at most ``limit``.

    Same instants as repeated ``next_fire_time``. For interval jobs ``anchor`` defaults to ``start``
    (so ``start`` itself is the first instant). Raises ValueError for naive datetimes or limit < 0.
    """
    start = _as_utc(start, "start")
    end = _as_utc(end, "end")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if isinstance(schedule, IntervalSchedule) and anchor is None:
        anchor = start
    anchor = None if anchor is None else _as_utc(anchor, "anchor")
    result: list[datetime] = []
    if limit == 0 or start > end:
        return result
    # Instants are microsecond-resolution, so "> start - 1 µs" is ">= start".
    for instant in _instants(schedule, start - _MICROSECOND, anchor):
        if instant > end or len(result) >= limit:
            break
        result.append(instant)
    return result


# --------------------------------------------------------------------------------------------------
# Misfire planning


def _fold(slots: list[datetime], coalesce: bool) -> list[PlannedRun]:
    if not slots:
        return []
    if not coalesce:
        return [PlannedRun(scheduled_at=slot, coalesced_count=1, coalesced_from=None) for slot in slots]
    return [
        PlannedRun(
            scheduled_at=slots[-1],
            coalesced_count=len(slots),
            coalesced_from=slots[0] if len(slots) > 1 else None,
        )
    ]


def plan_due_runs(
    schedule: Schedule,
    next_run_at: datetime,
    now: datetime,
    *,
    misfire_grace_time: int,
    coalesce: bool,
    limit: int = 1000,
    horizon: datetime | None = None,
) -> MisfirePlan:
    """Decide what happens to the slots of one job that are due at ``now``, or by ``horizon``.

    ``next_run_at`` is the job's first unhandled slot (normally a fire instant; it is the interval
    anchor). The slots are ``next_run_at`` and the fire instants after it, up to and including
    ``horizon`` (default ``now``; later than ``now`` when runs are planned ahead of their slots),
    at most ``limit`` of them per call. A slot is late if ``floor((now - slot) in seconds) >
    misfire_grace_time`` (whole seconds: grace 0 tolerates sub-second lateness); late slots are missed,
    on-time slots run (a slot after ``now`` is never late). Late slots always precede on-time ones.

    ``coalesce=False``: one PlannedRun (count 1) per on-time slot in ``run`` and per late slot in
    ``missed``. ``coalesce=True``: the on-time slots fold into one run for the latest of them and the
    late slots into one missed row for the latest late slot (count = slots folded, ``coalesced_from`` =
    earliest of them). Nothing is dropped: the counts over ``run`` + ``missed`` add up to the slots walked.

    ``next_run_at`` of the plan is the first fire instant after ``horizon`` (None if the schedule never
    fires again) unless ``truncated``: then ``limit`` stopped the walk and it is the first slot not yet
    handled (<= horizon), where the caller's next call continues without loss or overlap. If
    ``next_run_at > horizon`` nothing is due and it comes back unchanged.

    Raises ValueError for naive datetimes, a negative grace time, ``limit < 1`` or ``horizon < now``.
    """
    first = _as_utc(next_run_at, "next_run_at")
    now = _as_utc(now, "now")
    until = now if horizon is None else _as_utc(horizon, "horizon")
    if misfire_grace_time < 0:
        raise ValueError(f"misfire_grace_time must be >= 0 seconds, got {misfire_grace_time}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if until < now:
        raise ValueError(f"horizon must not be before now, got {until.isoformat()} < {now.isoformat()}")
    if first > until:
        return MisfirePlan(run=[], missed=[], next_run_at=first, truncated=False)

    late: list[datetime] = []
    on_time: list[datetime] = []
    following: datetime | None = first
    truncated = False
    slots = _instants(schedule, first, first)
    while following is not None and following <= until:
        if len(late) + len(on_time) == limit:
            truncated = True
            break
        # Whole seconds of lateness, floored: timedelta // timedelta is exact integer division (a slot ahead
        # of now has a negative lateness, never past the grace time).
        if (now - following) // _SECOND > misfire_grace_time:
            late.append(following)
        else:
            on_time.append(following)
        following = next(slots, None)
    return MisfirePlan(
        run=_fold(on_time, coalesce),
        missed=_fold(late, coalesce),
        next_run_at=following,
        truncated=truncated,
    )

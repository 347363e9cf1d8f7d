"""Schedule definitions: the interval and cron schedule types, their validation, and building one from a job's
schedule fields (``build_schedule``, ``schedule_of``).

Everything a schedule can get wrong is caught here, as a ``ScheduleError`` naming the API field it concerns, so
that the fire-time maths in the sibling modules only ever sees valid schedules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

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

# How far croniter searches for a matching date before declaring that an expression never fires, in
# years. Five-field cron repeats with the calendar; its longest real gap is Feb 29 across 2100 (8 years).
CRON_SEARCH_YEARS: Final = 50

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
        load_zone(self.timezone)

    @property
    def is_wildcard(self) -> bool:
        """Debian cron's MIN_STAR/HR_STAR: the minute or the hour field starts with ``*``.

        Wildcard jobs follow the wall clock through DST changes (no runs for skipped wall times, runs in
        both passes of repeated ones); the others are fixed-time jobs that run once per wall time.
        """
        minute, hour = _split_cron(self.expression)[:2]
        return minute.startswith("*") or hour.startswith("*")


Schedule = IntervalSchedule | CronSchedule


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


def load_zone(name: str) -> ZoneInfo:
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
        croniter(expression, _NEVER_FIRES_PROBE, max_years_between_matches=CRON_SEARCH_YEARS).get_next(datetime)
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
            f"{schedule.expression!r} never fires: no date matches it within {CRON_SEARCH_YEARS} years",
        )
    return schedule

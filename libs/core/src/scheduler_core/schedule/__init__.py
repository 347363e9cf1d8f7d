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

Modules: ``definition`` (the schedule types, their validation and construction from a job's fields),
``wall_clock`` (cron instants across DST gaps and folds), ``fire_times`` (next and windowed fire times),
``planning`` (due and missed runs, coalescing) and ``description`` (words for people). Import from this
package: the names below are the API, the submodules' other names are shared between them only.
"""

from __future__ import annotations

from .definition import (
    INTERVAL_FIELDS,
    SCHEDULE_FIELDS,
    CronSchedule,
    IntervalSchedule,
    Schedule,
    ScheduleError,
    build_schedule,
    schedule_from_fields,
    schedule_of,
)
from .description import describe_schedule
from .fire_times import fire_times_between, next_fire_time
from .planning import MisfirePlan, PlannedRun, plan_due_runs

__all__ = [
    "INTERVAL_FIELDS",
    "SCHEDULE_FIELDS",
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
    "schedule_from_fields",
    "schedule_of",
]

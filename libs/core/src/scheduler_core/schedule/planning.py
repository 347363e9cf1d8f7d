"""Misfire planning: what to do with a job's due slots at a given instant (``plan_due_runs``) — which run, which
are missed past the job's misfire grace time (the rule of ``verdicts.past_grace``), how they coalesce, and where
the job's next_run_at moves to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler_core import verdicts

from .definition import Schedule
from .fire_times import as_utc, instants


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
    first = as_utc(next_run_at, "next_run_at")
    now = as_utc(now, "now")
    until = now if horizon is None else as_utc(horizon, "horizon")
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
    slots = instants(schedule, first, first)
    while following is not None and following <= until:
        if len(late) + len(on_time) == limit:
            truncated = True
            break
        # Whole seconds of lateness, floored (verdicts.past_grace): timedelta // timedelta is exact integer
        # division (a slot ahead of now has a negative lateness, never past the grace time).
        if verdicts.past_grace(now - following, misfire_grace_time):
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

"""The checker over a finished scenario: the jobs' schedules, the database's rows, the task start logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.faults.checker import ExpectedJob, Report, check, read_starts, records_of
from tests.support.cluster import JobRef, executions, next_run_times


async def history_report(
    engine: AsyncEngine,
    jobs: Sequence[JobRef],
    logs: Sequence[Path],
    *,
    late_bound_s: float | None = None,
    until: Mapping[int, datetime | None] | None = None,
) -> Report:
    """Check the whole history once the timekeepers stopped. Each job's window runs from its first slot to just
    before its final next_run_at (the first slot no timekeeper handled; scenarios assert it is recent, i.e.
    that the timekeepers kept up), or before `until[job]` when given (the next_run_at a scenario read before it
    stopped the jobs), so every slot a timekeeper passed must be accounted for."""
    until = until if until is not None else await next_run_times(engine)
    expected = []
    for job in jobs:
        next_run = until[job.job_id]
        assert next_run is not None, f"job {job.job_id} has no next_run_at"
        expected.append(
            ExpectedJob(
                job.job_id, job.schedule, job.first_slot, next_run - timedelta(microseconds=1), job.tracks_starts
            )
        )
    return check(expected, records_of(await executions(engine)), read_starts(*logs), late_bound_s=late_bound_s)

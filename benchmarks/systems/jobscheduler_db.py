"""Run with the PRODUCT's interpreter (/work/main/.venv/bin/python -m benchmarks.systems.jobscheduler_db ...):
writes the benchmark's jobs into a scheduler database through the product's own models and engine (so the
column types, SQLite's pragmas and PostgreSQL's wake-up channel are the product's), and reads back what the
scheduler recorded about slots it did not run.

    load URL JOBS_JSON [TASK]   jobs are [[job_id, first_unix, period_s], ...]; ids become scheduled_job.id;
                                TASK: the task function's key (default: the no-op bench_record)
    outcomes URL OUT_JSON MIN_ID  counts of bench jobs' executions by status and by failure reason (first 60 chars)
    collect URL OUT_JSON MIN_ID [[job_id, scheduled_at_unix, status_id, coalesced_count, coalesced_from|null]]
                                for executions of bench jobs that are missed/skipped/coalesced, + status counts
    serve                       the same commands, one per stdin line (words separated by tabs); answers
                                "ok" or "error: ..." per line: started ahead of time, so a load does not
                                pay this interpreter's start-up while the first slots approach
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import make_url

from benchmarks.bench_tasks import TASK_KEY
from scheduler_core.store.engine import create_engine
from scheduler_core.store.models import ExecutionStatus, JobType, ScheduledJob, ScheduledJobExecution, TaskFunction
from scheduler_core.wakeup import WAKEUP_CHANNEL

# Jobs' settings in every system: every slot runs (no coalescing, no misfire window in the way), and a job may
# overlap itself a little so that a late run never turns the next slot into a skip.
MISFIRE_GRACE_S = 3600
MAX_INSTANCES = 10
CHUNK = 5000


def _instant(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


async def load(url: str, jobs: list[list[Any]], task_key: str = TASK_KEY) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            task_id = (
                await connection.execute(select(TaskFunction.id).where(TaskFunction.key == task_key))
            ).scalar_one()
            table = cast(Table, ScheduledJob.__table__)
            for offset in range(0, len(jobs), CHUNK):
                rows = [
                    {
                        "id": int(job_id),
                        "task_function_id": task_id,
                        "job_type_id": int(JobType.INTERVAL),
                        "name_en": f"bench {job_id}",
                        "interval_seconds": int(period),
                        "next_run_at": _instant(float(first)),
                        "misfire_grace_time": MISFIRE_GRACE_S,
                        "coalesce": False,
                        "max_instances": MAX_INSTANCES,
                        "priority": 0,
                    }
                    for job_id, first, period in jobs[offset : offset + CHUNK]
                ]
                await connection.execute(insert(table), rows)
            if make_url(url).get_backend_name() == "postgresql":
                await connection.execute(select(func.pg_notify(WAKEUP_CHANNEL, "")))
    finally:
        await engine.dispose()


async def collect(url: str, min_job_id: int) -> dict[str, Any]:
    execution = ScheduledJobExecution
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(
                        execution.job_id,
                        execution.scheduled_at,
                        execution.status_id,
                        execution.coalesced_count,
                        execution.coalesced_from,
                    ).where(
                        execution.job_id >= min_job_id,
                        (
                            execution.status_id.in_(
                                [ExecutionStatus.PENDING, ExecutionStatus.MISSED, ExecutionStatus.SKIPPED]
                            )
                        )
                        | (execution.coalesced_count > 1),
                    )
                )
            ).all()
            stamps = (
                await connection.execute(
                    select(
                        execution.scheduled_at,
                        execution.created_at,
                        execution.published_at,
                        execution.started_at,
                        execution.completed_at,
                    ).where(execution.job_id >= min_job_id, execution.started_at.is_not(None))
                )
            ).all()
            counts = (
                await connection.execute(
                    select(execution.status_id, func.count())
                    .where(execution.job_id >= min_job_id)
                    .group_by(execution.status_id)
                )
            ).all()
    finally:
        await engine.dispose()
    accounted = [
        [r[0], r[1].timestamp(), int(r[2]), int(r[3]), r[4].timestamp() if r[4] is not None else None] for r in rows
    ]
    statuses = {ExecutionStatus(int(status)).name.lower(): int(count) for status, count in counts}
    return {"accounted": accounted, "statuses": statuses, "stages": stage_percentiles(stamps)}


async def outcomes(url: str, min_job_id: int) -> dict[str, Any]:
    """How the runs ended: counts by status, and by failure reason (e.g. "executor lost: ...")."""
    execution = ScheduledJobExecution
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            counts = (
                await connection.execute(
                    select(execution.status_id, func.count())
                    .where(execution.job_id >= min_job_id)
                    .group_by(execution.status_id)
                )
            ).all()
            reason = func.substr(func.coalesce(execution.error_message, ""), 1, 60)
            reasons = (
                await connection.execute(
                    select(reason, func.count())
                    .where(execution.job_id >= min_job_id, execution.status_id == ExecutionStatus.FAILED)
                    .group_by(reason)
                )
            ).all()
    finally:
        await engine.dispose()
    return {
        "statuses": {ExecutionStatus(int(status)).name.lower(): int(count) for status, count in counts},
        "failures": {str(text): int(count) for text, count in reasons},
    }


def _pick(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stage_percentiles(rows: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Where a run's lateness comes from, in ms (p50/p99/max over the runs that started): slot -> row written
    by the timekeeper (created_at: its transaction's start) -> broker confirmed (published_at) -> claimed by an
    executor (started_at: the claim, or the slot for a run claimed ahead of it) -> finished (completed_at).
    Database clock throughout."""
    stages: dict[str, list[float]] = {"slot->written": [], "written->published": [], "published->claimed": []}
    stages["claimed->finished"] = []
    for scheduled, created, published, started, completed in rows:
        stages["slot->written"].append((created - scheduled).total_seconds())
        if published is not None:
            stages["written->published"].append((published - created).total_seconds())
            stages["published->claimed"].append((started - published).total_seconds())
        if completed is not None:
            stages["claimed->finished"].append((completed - started).total_seconds())
    out: dict[str, dict[str, float]] = {}
    for name, values in stages.items():
        if values:
            values.sort()
            out[name] = {"p50": 1000 * _pick(values, 0.5), "p99": 1000 * _pick(values, 0.99), "max": 1000 * values[-1]}
    return out


def execute(argv: list[str]) -> None:
    command, url, path = argv[0], argv[1], Path(argv[2])
    if command == "load":
        asyncio.run(load(url, json.loads(path.read_text()), *argv[3:4]))
    elif command == "outcomes":
        path.write_text(json.dumps(asyncio.run(outcomes(url, int(argv[3])))))
    elif command == "collect":
        path.write_text(json.dumps(asyncio.run(collect(url, int(argv[3])))))
    else:
        raise ValueError(f"unknown command {command!r}")


def serve() -> None:
    for line in sys.stdin:
        try:
            execute(line.rstrip("\n").split("\t"))
            answer = "ok"
        except Exception as exc:
            answer = f"error: {type(exc).__name__}: {exc}".replace("\n", " ")
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> None:
    if argv == ["serve"]:
        serve()
    else:
        execute(argv)


if __name__ == "__main__":
    main(sys.argv[1:])

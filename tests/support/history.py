"""A large execution history written in one statement (INSERT ... SELECT generate_series, PostgreSQL only): for the
plan tests and the history and migration benchmarks. Runs one hour apart per job (or `every_s` seconds), newest at
the current hour; statuses and
triggers drawn from a hash of the row number, so the mix is the same at any size:

    success 97 %, failed 2 %, missed 0.5 %, skipped 0.3 %, cancelled 0.2 %; the last 100 rows pending or running;
    trigger schedule 99.3 %, manual 0.5 %, backfill 0.2 %."""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

JOBS_SQL: Final = """
INSERT INTO scheduled_job (task_function_id, job_type_id, name_en, interval_hours, is_enabled)
SELECT (SELECT min(id) FROM task_function), 1, 'history ' || g, 1, false FROM generate_series(1, :jobs) g
RETURNING id
"""

RUNS_SQL: Final = """
INSERT INTO scheduled_job_execution (job_id, execution_id, scheduled_at, started_at, completed_at, duration_ms,
    status_id, result_summary, executor_id, host_name, created_at, trigger, published_at, claimed_at)
SELECT :first_job + (g % :jobs),
       md5(g::text)::uuid::text,
       s.slot, s.slot + interval '50 ms', s.slot + interval '1 s', 950,
       CASE WHEN g > :rows - 50 THEN 2 WHEN g > :rows - 100 THEN 1
            WHEN r.status < 20 THEN 4 WHEN r.status < 25 THEN 5 WHEN r.status < 28 THEN 6
            WHEN r.status < 30 THEN 7 ELSE 3 END,
       'ok', 'history-executor', 'history-host', s.slot + interval '1 s',
       CASE WHEN r.trigger < 5 THEN 'manual' WHEN r.trigger < 7 THEN 'backfill' ELSE 'schedule' END,
       s.slot, s.slot
FROM generate_series(1::bigint, :rows) g
CROSS JOIN LATERAL (
    SELECT date_trunc('hour', now())
           - ((:rows - 1) / :jobs - (g - 1) / :jobs) * CAST(:every_s AS double precision) * interval '1 second'
           AS slot
) s
CROSS JOIN LATERAL (
    SELECT abs(hashint8(g) % 1000) AS status, abs(hashint8(g + 1000000007) % 1000) AS trigger
) r
"""


async def generate_history(
    connection: AsyncConnection, *, rows: int, jobs: int = 1000, every_s: float = 3600.0
) -> list[int]:
    """Write `jobs` disabled jobs and `rows` finished runs of them (the 100 newest open), each job's runs `every_s`
    seconds apart; returns the job ids.
    Needs a task function to exist (the migrations seed one). The caller commits, then VACUUMs or ANALYZEs."""
    job_ids = sorted(row[0] for row in (await connection.execute(text(JOBS_SQL), {"jobs": jobs})).all())
    assert job_ids == list(range(job_ids[0], job_ids[0] + jobs)), "the runs' job ids are computed from the first"
    await connection.execute(
        text(RUNS_SQL), {"first_job": min(job_ids), "jobs": jobs, "rows": rows, "every_s": every_s}
    )
    return job_ids

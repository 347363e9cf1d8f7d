"""The scheduling pass on PostgreSQL: the claim with the database's `now` in one round trip, and the whole write
(runs, advances, confirmations, the next wake-up) in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, Boolean, Integer, String, text
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outbox import NewExecution, OutboxRun, PublishedRun
from scheduler_core.store.passes import DueClaim, DueJob, JobAdvance, PassRecord
from scheduler_core.store.portable.passes import DUE_SQL_COLUMNS, PortablePasses
from scheduler_core.store.postgres.outbox import MARK_PUBLISHED_SQL, published_params
from scheduler_core.store.types import UTCDateTime

# The schedulable predicate exactly as ix_scheduled_job_due declares it on PostgreSQL.
_SCHEDULABLE_SQL: Final = "is_enabled AND is_active AND NOT is_paused"

# The claim's horizon: the statement's own instant plus the look-ahead. statement_timestamp() is the instant the
# statement arrived; it is stable within the statement (clock_timestamp() is volatile and could not bound the
# index scan), so the same instant decides what is due and is returned to plan the runs. A stable expression,
# not a subquery, so that the due index's scan is bounded by it in a generic plan too.
_HORIZON_SQL: Final = "(statement_timestamp() + CAST(:lookahead AS double precision) * interval '1 second')"

# The claim and `now` in one round trip. NO KEY UPDATE: only next_run_at/last_run_at change, so executors
# claiming earlier runs of these jobs (KEY SHARE, see claims.py) neither wait for this pass nor make it skip
# their jobs. The LEFT JOIN returns one row when nothing is due.
_CLAIM_DUE = text(
    f"""
    WITH due AS (
        SELECT {DUE_SQL_COLUMNS}
        FROM scheduled_job
        WHERE {_SCHEDULABLE_SQL} AND next_run_at <= {_HORIZON_SQL}
        ORDER BY next_run_at
        LIMIT :limit
        FOR NO KEY UPDATE SKIP LOCKED
    )
    SELECT statement_timestamp() AS claimed_at, {_HORIZON_SQL} AS horizon, due.*
    FROM (VALUES (0)) AS one (x) LEFT JOIN due ON true
    """
).columns(
    claimed_at=UTCDateTime(),
    horizon=UTCDateTime(),
    id=Integer(),
    job_type_id=Integer(),
    interval_seconds=Integer(),
    interval_minutes=Integer(),
    interval_hours=Integer(),
    interval_days=Integer(),
    cron_expression=String(),
    timezone=String(),
    next_run_at=UTCDateTime(),
    misfire_grace_time=Integer(),
    coalesce=Boolean(),
    priority=Integer(),
)

# A pass's whole write in one statement: the previous passes' broker confirmations, the new execution rows, the
# claimed jobs' advances, and the soonest next_run_at afterwards. The CTEs and the final SELECT share one
# snapshot that does not see the CTEs' own changes, so the claimed jobs' new slots come from `advanced` and
# their old rows are left out of the scan of the rest (an ordered scan of ix_scheduled_job_due that passes
# over at most the claimed rows, each checked against a hashed set). Arrays, not VALUES lists: one prepared
# statement whatever the batch size, and no bound-parameter limit. `marked` runs although nothing reads it
# (PostgreSQL runs every data-modifying CTE to completion).
_RECORD_PASS = text(
    f"""
    WITH marked AS ({MARK_PUBLISHED_SQL}),
    inserted AS (
        INSERT INTO scheduled_job_execution (
            execution_id, job_id, scheduled_at, status_id, trigger, coalesced_count, coalesced_from,
            error_message, completed_at
        )
        SELECT * FROM unnest(
            CAST(:execution_ids AS varchar[]), CAST(:job_ids AS integer[]), CAST(:slots AS timestamptz[]),
            CAST(:statuses AS integer[]), CAST(:triggers AS varchar[]), CAST(:coalesced_counts AS integer[]),
            CAST(:coalesced_froms AS timestamptz[]), CAST(:errors AS text[]), CAST(:completed AS timestamptz[])
        )
        ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING
        RETURNING execution_id
    ),
    released AS (
        -- Waiting runs due: pending again, to be published (the waiting runs' partial index, normally empty).
        -- release_at becomes when it was released (if later than due): the relay leaves a run alone for its
        -- grace after that, so a pass that released it late is not raced by the relay publishing it too.
        UPDATE scheduled_job_execution AS e
        SET status_id = {int(ExecutionStatus.PENDING)}, release_at = GREATEST(e.release_at, now())
        FROM (
            SELECT w.id, w.scheduled_at FROM scheduled_job_execution AS w
            WHERE w.status_id = 8 AND w.release_at <= CAST(:release_until AS timestamptz)
            ORDER BY w.release_at
            LIMIT :release_limit
            FOR UPDATE SKIP LOCKED
        ) AS r
        WHERE e.id = r.id AND e.scheduled_at = r.scheduled_at  -- by id and slot: the run's own partition
        RETURNING e.execution_id, e.job_id, e.scheduled_at
    ),
    advanced AS (
        UPDATE scheduled_job AS j
        SET next_run_at = a.next_run_at, last_run_at = COALESCE(a.last_run_at, j.last_run_at)
        FROM unnest(
            CAST(:advanced_ids AS integer[]), CAST(:next_runs AS timestamptz[]), CAST(:last_runs AS timestamptz[])
        ) AS a(id, next_run_at, last_run_at)
        WHERE j.id = a.id
        RETURNING j.next_run_at
    )
    SELECT
        ARRAY(SELECT execution_id FROM inserted) AS written,
        LEAST(
            (SELECT min(next_run_at) FROM advanced),
            (SELECT min(next_run_at) FROM scheduled_job
             WHERE {_SCHEDULABLE_SQL} AND id NOT IN (SELECT unnest(CAST(:advanced_ids AS integer[]))))
        ) AS earliest,
        (SELECT json_agg(json_build_array(r.execution_id, r.job_id, r.scheduled_at, j.priority))
         FROM released AS r JOIN scheduled_job AS j ON j.id = r.job_id) AS released,
        (SELECT min(release_at) FROM scheduled_job_execution
         WHERE status_id = 8 AND release_at > CAST(:release_until AS timestamptz)) AS earliest_release
    """
).columns(earliest=UTCDateTime(), released=JSON(), earliest_release=UTCDateTime())


class PostgresPasses(PortablePasses):
    async def claim_due(self, session: AsyncSession, limit: int, lookahead: float) -> DueClaim:
        rows = (await session.execute(_CLAIM_DUE, {"limit": limit, "lookahead": lookahead})).all()
        now, horizon = rows[0].claimed_at, rows[0].horizon
        assert isinstance(now, datetime)
        assert isinstance(horizon, datetime)
        jobs = [
            DueJob(**{key: value for key, value in row._asdict().items() if key not in ("claimed_at", "horizon")})
            for row in rows
            if row.id is not None  # the one row of an empty claim carries only claimed_at and horizon
        ]
        return DueClaim(now, jobs, horizon)

    async def record(
        self,
        session: AsyncSession,
        rows: Sequence[NewExecution],
        advances: Sequence[JobAdvance],
        published: Sequence[PublishedRun] = (),
        *,
        release_until: datetime | None = None,
        release_limit: int = 0,
    ) -> PassRecord:
        params: dict[str, Any] = {
            "release_until": release_until,
            "release_limit": release_limit,
            **published_params(published),
            "execution_ids": [r.execution_id for r in rows],
            "job_ids": [r.job_id for r in rows],
            "slots": [r.scheduled_at for r in rows],
            "statuses": [int(r.status_id) for r in rows],
            "triggers": [r.trigger for r in rows],
            "coalesced_counts": [r.coalesced_count for r in rows],
            "coalesced_froms": [r.coalesced_from for r in rows],
            "errors": [r.error_message for r in rows],
            "completed": [r.completed_at for r in rows],
            "advanced_ids": [a.job_id for a in advances],
            "next_runs": [a.next_run_at for a in advances],
            "last_runs": [a.last_run_at for a in advances],
        }
        row = (await session.execute(_RECORD_PASS, params)).one()
        await self.announce_missed(session, rows, row.written)
        released = [
            OutboxRun(execution_id, job_id, datetime.fromisoformat(slot), priority)
            for execution_id, job_id, slot, priority in row.released or ()
        ]
        return PassRecord(list(row.written), row.earliest, released, row.earliest_release)

"""The claim on PostgreSQL: three statements whatever the batch size, each written once with the batch as array
parameters (one entry in SQLAlchemy's compiled cache and one prepared statement per connection, whose generic
plan the server caches).

Runs are found by their unique execution_id (`= ANY(array)`); their status is tested as `status_id + 0`, a
condition no index serves: otherwise a generic plan may read every pending (or running) run through
ix_scheduled_job_execution_open for each batch, since it cannot know how many ids the array holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Boolean, Integer, String, column, text
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.store.claims import ClaimOutcome, ClaimResult
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, JsonDoc
from scheduler_core.store.portable.claims import BatchClaims, claimed_run, missed_reason, not_due
from scheduler_core.store.types import UTCDateTime

_PENDING, _RUNNING = int(ExecutionStatus.PENDING), int(ExecutionStatus.RUNNING)
_MISSED, _SKIPPED = int(ExecutionStatus.MISSED), int(ExecutionStatus.SKIPPED)
# First key of the two-key advisory locks claims take per job (the second is the job id): a constant of our
# own ("JS" in ASCII), so that another application's advisory locks in the same database do not collide.
CLAIM_LOCK_SPACE: Final = 0x4A53

# Step 1: the pending runs, and per job a transaction-scoped advisory lock taken in job-id order (claimers of one
# job queue behind each other, so max_instances is counted by one at a time, and never deadlock). Not a row lock
# on the job: the timekeeper holds its due jobs' rows (FOR NO KEY UPDATE) while it writes their next slots, and a
# claim of the previous slot must not wait for that pass, nor make the pass skip the job. FOR KEY SHARE only
# keeps the job from being deleted under the claim. One row at least (the anchor). Output columns are computed
# after the ORDER BY's sort, row by row: each row's `now` is read after its own and every earlier row's lock, so
# the last row's is after all of them.
_CLAIM_PENDING = text(
    f"""
    WITH pending AS (
        SELECT e.execution_id, e.job_id, e.scheduled_at, e.trigger, j.misfire_grace_time, j.max_instances,
               j.parameters, j.timeout_seconds, t.key AS task_key
        FROM scheduled_job_execution AS e
        JOIN scheduled_job AS j ON j.id = e.job_id
        JOIN task_function AS t ON t.id = j.task_function_id
        WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.status_id + 0 = {_PENDING}
        ORDER BY j.id, e.scheduled_at
        FOR KEY SHARE OF j
    )
    SELECT pg_advisory_xact_lock({CLAIM_LOCK_SPACE}, p.job_id) IS NULL AS locked, clock_timestamp() AS now,
           p.execution_id, p.job_id, p.scheduled_at, p.trigger, p.misfire_grace_time, p.max_instances,
           p.parameters, p.timeout_seconds, p.task_key
    FROM (VALUES (1)) AS anchor (one) LEFT JOIN pending AS p ON true
    ORDER BY p.job_id, p.scheduled_at
    """
).columns(
    column("locked", Boolean()),
    column("now", UTCDateTime()),
    column("execution_id", String()),
    column("job_id", Integer()),
    column("scheduled_at", UTCDateTime()),
    column("trigger", String()),
    column("misfire_grace_time", Integer()),
    column("max_instances", Integer()),
    column("parameters", JsonDoc),
    column("timeout_seconds", Integer()),
    column("task_key", String()),
)

# Step 2, after the job locks: the claimer's instance row FOR SHARE, which orders the claim with the sweep's
# verdict (a claimer declared stopped claims nothing; the sweep's UPDATE of the row waits for this claim, then
# fails what it claimed). Taken after the job locks, not before: a claim waiting for a job's lock (held by a
# claimer that froze mid-transaction) must not hold its instance row, or its own heartbeat would queue behind it.
_CLAIMER = text("SELECT status FROM scheduler_instance WHERE id = :instance_id FOR SHARE").columns(
    column("status", String())
)

# Step 3, under the job locks of step 1: its own statement so that its snapshot, taken after those locks, sees
# every claim of these jobs that committed before them. Live locks are counted per job; the candidates still
# pending take the places left under max_instances in slot order and become running with a lock (started at
# the later of now and their slot); the others are closed as skipped (each job's reason passed in), unless their
# slot is still ahead (left pending and returned with a NULL status: not due), and the missed ones (judged by
# the caller from step 1) as missed. Each claimed run's lock id is returned as its fencing token (the identity
# sequence never goes back, and step 1's lock serialises the claims of one job).
_CLAIM_DECIDE = text(
    f"""
    WITH candidates AS (
        SELECT e.execution_id, e.job_id, e.scheduled_at, j.max_instances,
               row_number() OVER (PARTITION BY e.job_id ORDER BY e.scheduled_at) AS place
        FROM scheduled_job_execution AS e
        JOIN scheduled_job AS j ON j.id = e.job_id
        WHERE e.execution_id = ANY(CAST(:candidate_ids AS varchar[])) AND e.status_id + 0 = {_PENDING}
    ),
    counted AS (
        -- Each job's live locks, counted once (for its first candidate) and passed to its other candidates;
        -- counted up to max_instances only, which decides the same verdicts. The LIMIT also makes it a plain
        -- index scan, which marks the dead entries the lock table's churn leaves (a lock per run) so that
        -- later counts skip them; a bitmap scan would revisit every one until vacuum.
        SELECT c.execution_id, c.job_id, c.scheduled_at, c.max_instances, c.place,
               max(CASE WHEN c.place = 1 THEN
                       (SELECT count(*) FROM (
                            SELECT FROM scheduled_job_lock AS l
                            WHERE l.job_id = c.job_id AND l.expires_at > CAST(:now AS timestamptz)
                            LIMIT c.max_instances) AS live)
                   END) OVER (PARTITION BY c.job_id) AS running
        FROM candidates AS c
    ),
    verdicts AS MATERIALIZED (  -- computed once, whatever the join below
        SELECT c.execution_id,
               CASE WHEN c.running + c.place <= c.max_instances THEN {_RUNNING}
                    WHEN c.scheduled_at > CAST(:now AS timestamptz) THEN NULL  -- not due: decided at its slot
                    ELSE {_SKIPPED} END AS status_id,
               s.reason
        FROM counted AS c
        LEFT JOIN unnest(CAST(:skip_job_ids AS integer[]), CAST(:skip_reasons AS text[])) AS s (job_id, reason)
               ON s.job_id = c.job_id
        UNION ALL
        SELECT m.execution_id, {_MISSED}, m.reason
        FROM unnest(CAST(:missed_ids AS varchar[]), CAST(:missed_reasons AS text[])) AS m (execution_id, reason)
    ),
    changed AS (
        UPDATE scheduled_job_execution AS e
        SET status_id = v.status_id,
            executor_id = CASE WHEN v.status_id = {_RUNNING} THEN CAST(:instance_id AS varchar)
                               ELSE e.executor_id END,
            host_name = CASE WHEN v.status_id = {_RUNNING} THEN CAST(:host_name AS varchar) ELSE e.host_name END,
            started_at = CASE WHEN v.status_id = {_RUNNING} THEN GREATEST(CAST(:now AS timestamptz), e.scheduled_at)
                              ELSE e.started_at END,
            completed_at = CASE WHEN v.status_id = {_RUNNING} THEN e.completed_at
                                ELSE CAST(:now AS timestamptz) END,
            error_message = CASE WHEN v.status_id = {_RUNNING} THEN e.error_message ELSE v.reason END
        FROM verdicts AS v
        WHERE e.execution_id = ANY(CAST(:candidate_ids AS varchar[]) || CAST(:missed_ids AS varchar[]))
          AND e.execution_id = v.execution_id AND v.status_id IS NOT NULL AND e.status_id + 0 = {_PENDING}
        RETURNING e.execution_id, e.job_id, e.status_id, e.error_message
    ),
    locked AS (
        INSERT INTO scheduled_job_lock (job_id, execution_id, locked_by, locked_at, expires_at)
        SELECT c.job_id, c.execution_id, CAST(:instance_id AS varchar), CAST(:now AS timestamptz),
               CAST(:expires_at AS timestamptz)
        FROM changed AS c
        WHERE c.status_id = {_RUNNING}
        RETURNING execution_id, id
    )
    SELECT c.execution_id, c.status_id, c.error_message, l.id AS fencing_token
    FROM changed AS c LEFT JOIN locked AS l ON l.execution_id = c.execution_id
    UNION ALL
    SELECT v.execution_id, NULL, NULL, NULL FROM verdicts AS v WHERE v.status_id IS NULL
    """
)


class PostgresClaims(BatchClaims):
    async def _claim(
        self, session: AsyncSession, execution_ids: Sequence[str], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        rows = (await session.execute(_CLAIM_PENDING, {"ids": list(execution_ids)})).all()
        claimer = (await session.execute(_CLAIMER, {"instance_id": instance_id})).scalar_one_or_none()
        if claimer == InstanceStatus.STOPPED:
            return None
        results: dict[str, ClaimResult] = {}
        if rows[0].execution_id is None:  # the anchor row alone: nothing pending
            return results
        now: datetime = rows[-1].now  # read after every job's lock (see _CLAIM_PENDING)
        candidate_ids: list[str] = []
        missed_ids: list[str] = []
        missed_reasons: list[str] = []
        skip_reasons: dict[int, str] = {}
        for row in rows:
            reason = missed_reason(row, now)
            if reason is None:
                candidate_ids.append(row.execution_id)
                skip_reasons.setdefault(row.job_id, verdicts.skipped(row.max_instances))
            else:
                missed_ids.append(row.execution_id)
                missed_reasons.append(reason)
        changed = await session.execute(
            _CLAIM_DECIDE,
            {
                "candidate_ids": candidate_ids,
                "missed_ids": missed_ids,
                "missed_reasons": missed_reasons,
                "skip_job_ids": list(skip_reasons),
                "skip_reasons": list(skip_reasons.values()),
                "now": now,
                "expires_at": now + timedelta(seconds=lock_ttl),
                "instance_id": instance_id,
                "host_name": host_name,
            },
        )
        by_id = {row.execution_id: row for row in rows}
        for execution_id, status_id, reason, token in changed.all():
            if status_id is None:
                results[execution_id] = not_due(execution_id, by_id[execution_id].scheduled_at, now)
            elif status_id == _RUNNING:
                results[execution_id] = ClaimResult(
                    ClaimOutcome.CLAIMED, execution_id, run=claimed_run(by_id[execution_id], now, token)
                )
            else:
                outcome = ClaimOutcome.MISSED if status_id == _MISSED else ClaimOutcome.SKIPPED
                results[execution_id] = ClaimResult(outcome, execution_id, reason=reason)
        return results

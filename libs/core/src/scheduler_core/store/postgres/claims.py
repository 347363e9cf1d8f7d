"""The claim on PostgreSQL: four statements whatever the batch size (the runs, the claimer, the jobs' state, the
verdicts' write), each written once with the batch as array parameters (one entry in SQLAlchemy's compiled cache
and one prepared statement per connection, planned for each batch's values: engine.py's plan_cache_mode). The
verdicts themselves are decided in Python (portable.claims.decide), the same code as on SQLite, under the locks
the statements take.

Runs are found by their unique execution_id (`= ANY(array)`) and their slots (`scheduled_at = ANY(array)`, the
slots their messages carry): the slots are the partition key of the runs' table, so that each statement, planned
for the batch's values, reads only the partitions of the batch's days. Their status is tested as `status_id + 0`, a
condition no index serves: otherwise a generic plan may read every pending (or running) run through
ix_scheduled_job_execution_open for each batch, since it cannot know how many ids the array holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Boolean, Integer, String, column, text
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.claims import ClaimOutcome, ClaimResult, RunSlot
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, JsonDoc, OverlapPolicy
from scheduler_core.store.portable.claims import (
    OUTCOME_OF,
    BatchClaims,
    Decisions,
    JobState,
    Verdict,
    claimed_run,
    decide,
    not_due,
    waits_in_queue,
)
from scheduler_core.store.types import UTCDateTime

_PENDING, _RUNNING, _WAITING = int(ExecutionStatus.PENDING), int(ExecutionStatus.RUNNING), int(ExecutionStatus.WAITING)
_STATUS_OF: Final = {
    Verdict.RUN: _RUNNING,
    Verdict.MISSED: int(ExecutionStatus.MISSED),
    Verdict.SKIPPED: int(ExecutionStatus.SKIPPED),
    Verdict.QUEUED: _WAITING,
}
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
        SELECT e.execution_id, e.job_id, e.scheduled_at, e.trigger, e.attempt, j.misfire_grace_time,
               j.max_instances, j.overlap_policy, j.parameters, j.timeout_seconds, t.key AS task_key
        FROM scheduled_job_execution AS e
        JOIN scheduled_job AS j ON j.id = e.job_id
        JOIN task_function AS t ON t.id = j.task_function_id
        WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.scheduled_at = ANY(CAST(:slots AS timestamptz[]))
          AND e.status_id + 0 = {_PENDING}
        ORDER BY j.id, e.scheduled_at, e.attempt
        FOR KEY SHARE OF j
    )
    SELECT pg_advisory_xact_lock({CLAIM_LOCK_SPACE}, p.job_id) IS NULL AS locked, clock_timestamp() AS now,
           p.execution_id, p.job_id, p.scheduled_at, p.trigger, p.attempt, p.misfire_grace_time, p.max_instances,
           p.overlap_policy, p.parameters, p.timeout_seconds, p.task_key
    FROM (VALUES (1)) AS anchor (one) LEFT JOIN pending AS p ON true
    ORDER BY p.job_id, p.scheduled_at, p.attempt
    """
).columns(
    column("locked", Boolean()),
    column("now", UTCDateTime()),
    column("execution_id", String()),
    column("job_id", Integer()),
    column("scheduled_at", UTCDateTime()),
    column("trigger", String()),
    column("attempt", Integer()),
    column("misfire_grace_time", Integer()),
    column("max_instances", Integer()),
    column("overlap_policy", String()),
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

# Step 3, under the job locks of step 1: each job's state, in a statement of its own so that its snapshot, taken
# after those locks, sees every claim of these jobs that committed before them. Live locks are counted up to
# max_instances only, which decides the same verdicts; the LIMIT also makes it a plain index scan, which marks
# the dead entries the lock table's churn leaves (a lock per run) so that later counts skip them (a bitmap scan
# would revisit every one until vacuum). The queue's head and the oldest running run are read only for the jobs
# that need them (one-time filters on the job's flags, which read nothing when false): nothing more on the common
# path. The oldest running run is found through the lock table, which does not know its slot:
# its row is read by execution_id alone (an index probe per partition), for overlap_policy replace only, and only
# while the job has a live lock. Its slot is returned too, so that step 4's request to cancel it names it.
_JOB_STATE = text(
    f"""
    SELECT j.job_id,
           (SELECT count(*) FROM (
                SELECT FROM scheduled_job_lock AS l
                WHERE l.job_id = j.job_id AND l.expires_at > CAST(:now AS timestamptz)
                LIMIT j.max_instances) AS live) AS live,
           h.execution_id AS head_id, h.scheduled_at AS head_slot, h.attempt AS head_attempt,
           o.execution_id AS oldest_running, o.scheduled_at AS oldest_running_slot
    FROM unnest(CAST(:job_ids AS integer[]), CAST(:max_instances AS integer[]), CAST(:queues AS boolean[]),
                CAST(:replaces AS boolean[])) AS j (job_id, max_instances, queues, replaces)
    LEFT JOIN LATERAL (
        SELECT w.execution_id, w.scheduled_at, w.attempt FROM scheduled_job_execution AS w
        WHERE j.queues AND w.job_id = j.job_id AND w.queued_at IS NOT NULL AND w.status_id IN (1, 8)
        ORDER BY w.scheduled_at, w.attempt LIMIT 1
    ) AS h ON true
    LEFT JOIN LATERAL (
        SELECT r.execution_id, r.scheduled_at FROM scheduled_job_lock AS l
        JOIN scheduled_job_execution AS r ON r.execution_id = l.execution_id
        WHERE j.replaces AND l.job_id = j.job_id AND l.expires_at > CAST(:now AS timestamptz)
          AND r.status_id + 0 = {_RUNNING} AND r.cancel_requested_at IS NULL
        ORDER BY l.locked_at, l.id LIMIT 1
    ) AS o ON true
    """
).columns(
    column("job_id", Integer()),
    column("live", Integer()),
    column("head_id", String()),
    column("head_slot", UTCDateTime()),
    column("head_attempt", Integer()),
    column("oldest_running", String()),
    column("oldest_running_slot", UTCDateTime()),
)

# Step 4: the verdicts. Runs to start become running with a lock (claimed now, started at the later of now and
# their slot); missed and skipped ones are closed with their reason; queued ones wait (no longer published: the
# pass publishes them again once released). Each claimed run's lock id is returned as its fencing token (the
# identity sequence never goes back, and step 1's lock serialises the claims of one job). Runs replaced under
# overlap_policy replace are asked to cancel (their executor learns it when it renews their lease).
_CLAIM_WRITE = text(
    f"""
    WITH verdicts AS MATERIALIZED (
        SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:slots AS timestamptz[]), CAST(:statuses AS integer[]),
                             CAST(:reasons AS text[]))
               AS v (execution_id, scheduled_at, status_id, reason)
    ),
    changed AS (
        UPDATE scheduled_job_execution AS e
        SET status_id = v.status_id,
            executor_id = CASE WHEN v.status_id = {_RUNNING} THEN CAST(:instance_id AS varchar)
                               ELSE e.executor_id END,
            host_name = CASE WHEN v.status_id = {_RUNNING} THEN CAST(:host_name AS varchar) ELSE e.host_name END,
            claimed_at = CASE WHEN v.status_id = {_RUNNING} THEN CAST(:now AS timestamptz) ELSE e.claimed_at END,
            started_at = CASE WHEN v.status_id = {_RUNNING} THEN GREATEST(CAST(:now AS timestamptz), e.scheduled_at)
                              ELSE e.started_at END,
            completed_at = CASE WHEN v.status_id IN ({_RUNNING}, {_WAITING}) THEN e.completed_at
                                ELSE CAST(:now AS timestamptz) END,
            error_message = CASE WHEN v.status_id = {_RUNNING} THEN NULL ELSE v.reason END,
            queued_at = CASE WHEN v.status_id = {_WAITING} THEN COALESCE(e.queued_at, CAST(:now AS timestamptz))
                             ELSE e.queued_at END,
            release_at = CASE WHEN v.status_id = {_WAITING} THEN NULL ELSE e.release_at END,
            published_at = CASE WHEN v.status_id = {_WAITING} THEN NULL ELSE e.published_at END
        FROM verdicts AS v
        WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.scheduled_at = ANY(CAST(:slots AS timestamptz[]))
          AND e.execution_id = v.execution_id AND e.scheduled_at = v.scheduled_at AND e.status_id + 0 = {_PENDING}
        RETURNING e.execution_id, e.job_id, e.status_id
    ),
    locked AS (
        INSERT INTO scheduled_job_lock (job_id, execution_id, locked_by, locked_at, expires_at)
        SELECT c.job_id, c.execution_id, CAST(:instance_id AS varchar), CAST(:now AS timestamptz),
               CAST(:expires_at AS timestamptz)
        FROM changed AS c
        WHERE c.status_id = {_RUNNING}
        RETURNING execution_id, id
    ),
    replaced AS (
        UPDATE scheduled_job_execution AS r
        SET cancel_requested_at = CAST(:now AS timestamptz), cancelled_by = x.by
        FROM unnest(CAST(:replaced_ids AS varchar[]), CAST(:replaced_slots AS timestamptz[]),
                    CAST(:replaced_by AS text[])) AS x (execution_id, scheduled_at, by)
        WHERE r.execution_id = x.execution_id AND r.scheduled_at = x.scheduled_at
          AND r.scheduled_at = ANY(CAST(:replaced_slots AS timestamptz[]))
          AND r.status_id + 0 = {_RUNNING} AND r.cancel_requested_at IS NULL
          -- A one-time filter on the parameter: nothing is read when no run is replaced (every claim but those of
          -- overlap_policy replace), whatever plan the statement has. Its generic plan, made while the table is
          -- tiny (a new database; then never made again while autovacuum is off), scans the whole table here.
          AND cardinality(CAST(:replaced_ids AS varchar[])) > 0
        RETURNING r.execution_id, r.cancelled_by
    ),
    mirrored AS (  -- on the replaced run's lock, which its executor's lease renewal reads (migration 0011)
        UPDATE scheduled_job_lock AS rl SET cancel_requested_by = rp.cancelled_by
        FROM replaced AS rp WHERE rl.execution_id = rp.execution_id
    )
    SELECT c.execution_id, c.status_id, l.id AS fencing_token
    FROM changed AS c LEFT JOIN locked AS l ON l.execution_id = c.execution_id
    """
).columns(column("execution_id", String()), column("status_id", Integer()), column("fencing_token", Integer()))


@dataclass(frozen=True, slots=True)
class _Pending:
    """A row of _CLAIM_PENDING (a portable.claims.PendingRun)."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    trigger: str
    attempt: int
    misfire_grace_time: int
    max_instances: int
    overlap_policy: str
    parameters: dict[str, Any] | None
    timeout_seconds: int | None
    task_key: str


class PostgresClaims(BatchClaims):
    async def _claim(
        self, session: AsyncSession, runs: Sequence[RunSlot], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        params = {"ids": [run.execution_id for run in runs], "slots": list({run.scheduled_at for run in runs})}
        rows = (await session.execute(_CLAIM_PENDING, params)).all()
        claimer = (await session.execute(_CLAIMER, {"instance_id": instance_id})).scalar_one_or_none()
        if claimer == InstanceStatus.STOPPED:
            return None
        if rows[0].execution_id is None:  # the anchor row alone: nothing pending
            return {}
        now: datetime = rows[-1].now  # read after every job's lock (see _CLAIM_PENDING)
        # The statement matched ids and slots as two sets: a run counts only with its own slot (any run of the
        # batch it names was found by it, so that an id given with another run's slot is not this run).
        wanted = set(runs)
        pending = [_Pending(*row[2:]) for row in rows if RunSlot(row.execution_id, row.scheduled_at) in wanted]
        if not pending:
            return {}
        decisions = decide(pending, await self._job_states(session, pending, now), now)
        by_id = {run.execution_id: run for run in pending}
        slots = {eid: run.scheduled_at for eid, run in by_id.items()}
        params = _write_params(decisions, slots, now, instance_id, host_name, lock_ttl)
        written = (await session.execute(_CLAIM_WRITE, params)).all() if params["ids"] else []
        reasons = {v.execution_id: v.reason for v in decisions.verdicts}
        results: dict[str, ClaimResult] = {}
        for verdict in decisions.verdicts:
            if verdict.verdict is Verdict.NOT_DUE:
                run = by_id[verdict.execution_id]
                results[run.execution_id] = not_due(run.execution_id, run.scheduled_at, now)
        for execution_id, status_id, token in written:
            if status_id == _RUNNING:
                claimed = claimed_run(by_id[execution_id], now, token)
                results[execution_id] = ClaimResult(ClaimOutcome.CLAIMED, execution_id, run=claimed)
            else:
                closed = next(v for v, s in _STATUS_OF.items() if s == status_id)
                results[execution_id] = ClaimResult(OUTCOME_OF[closed], execution_id, reason=reasons[execution_id])
        return results

    @staticmethod
    async def _job_states(session: AsyncSession, pending: list[_Pending], now: datetime) -> dict[int, JobState]:
        jobs: dict[int, tuple[int, bool, bool]] = {}
        for run in pending:
            _, queues, replaces = jobs.get(run.job_id, (0, False, False))
            jobs[run.job_id] = (
                run.max_instances,
                queues or waits_in_queue(run),
                replaces or run.overlap_policy == OverlapPolicy.REPLACE,
            )
        params = {
            "now": now,
            "job_ids": list(jobs),
            "max_instances": [limit for limit, _, _ in jobs.values()],
            "queues": [queues for _, queues, _ in jobs.values()],
            "replaces": [replaces for _, _, replaces in jobs.values()],
        }
        states: dict[int, JobState] = {}
        for row in (await session.execute(_JOB_STATE, params)).all():
            head = None if row.head_id is None else (row.head_slot, row.head_attempt, row.head_id)
            oldest = None if row.oldest_running is None else RunSlot(row.oldest_running, row.oldest_running_slot)
            states[row.job_id] = JobState(row.live, head, oldest)
        return states


def _write_params(
    decisions: Decisions, slots: dict[str, datetime], now: datetime, instance_id: str, host_name: str, lock_ttl: float
) -> dict[str, Any]:
    """The parameters of _CLAIM_WRITE; `slots`: each pending run's slot, by execution id."""
    written = [v for v in decisions.verdicts if v.verdict is not Verdict.NOT_DUE]
    return {
        "ids": [v.execution_id for v in written],
        "slots": [slots[v.execution_id] for v in written],
        "statuses": [_STATUS_OF[v.verdict] for v in written],
        "reasons": [v.reason for v in written],
        "replaced_ids": [run.execution_id for run in decisions.replaced],
        "replaced_slots": [run.scheduled_at for run in decisions.replaced],
        "replaced_by": list(decisions.replaced.values()),
        "now": now,
        "expires_at": now + timedelta(seconds=lock_ttl),
        "instance_id": instance_id,
        "host_name": host_name,
    }

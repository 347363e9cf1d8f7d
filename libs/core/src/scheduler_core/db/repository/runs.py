"""Runs: an execution from the moment an executor claims it until its outcome is recorded, and the sweep
that fails runs whose executor was lost.

Claims and outcomes are handled in batches (an executor hands over whatever deliveries and results it has at
that moment): a batch costs the same few statements as one run, which is what lets one executor process keep
up with a thousand runs a second."""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    Table,
    case,
    column,
    delete,
    exists,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.models import (
    ExecutionStatus,
    InstanceStatus,
    JsonDoc,
    ScheduledJob,
    ScheduledJobExecution,
    ScheduledJobLock,
    SchedulerInstance,
    TaskFunction,
    Trigger,
)
from scheduler_core.db.repository.clock import is_postgres, now_expr
from scheduler_core.db.repository.executions import PENDING_LITERAL
from scheduler_core.db.repository.sqlite import from_instant, from_json, placeholders, sqlite_connection, to_instant
from scheduler_core.db.types import UTCDateTime


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"  # now running under this executor's lock
    ALREADY_HANDLED = "already_handled"  # not pending (a duplicate delivery) or unknown
    MISSED = "missed"  # picked up after its grace time; recorded as missed
    SKIPPED = "skipped"  # max_instances runs already running; recorded as skipped
    REFUSED = "refused"  # the claimer was declared dead by the sweep: nothing claimed, it must stop
    # Ahead of its slot, with max_instances runs of its job running now: left pending, to be claimed again at
    # its slot (those runs may have finished by then), so that a run delivered early is never skipped early.
    NOT_DUE = "not_due"


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run this executor now owns, with what it needs to execute it."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    started_at: datetime  # recorded start: the claim's instant, or the slot if the run was claimed ahead of it
    task_key: str
    parameters: dict[str, Any] | None
    timeout_seconds: int | None
    # Seconds from the claim to started_at, by the database's clock: how long the executor holds the run
    # before starting its task (0 unless it was claimed ahead of its slot).
    start_in: float = 0.0


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    execution_id: str
    run: ClaimedRun | None = None  # set when outcome is CLAIMED
    reason: str | None = None  # set when outcome is MISSED or SKIPPED
    due_in: float = 0.0  # NOT_DUE: seconds until the run's slot, by the database's clock


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, as its executor reports it."""

    execution_id: str
    status: ExecutionStatus
    duration_ms: int
    result_summary: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None


@dataclass(frozen=True, slots=True)
class UnclaimedRun:
    """A scheduled run nobody claimed within its job's misfire grace time, now recorded missed."""

    execution_id: str
    job_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class OrphanedRun:
    execution_id: str
    job_id: int
    executor_id: str
    reason: str


_EXECUTIONS = cast(Table, ScheduledJobExecution.__table__)
_JOBS = cast(Table, ScheduledJob.__table__)
_TASKS = cast(Table, TaskFunction.__table__)
_LOCKS = cast(Table, ScheduledJobLock.__table__)
_INSTANCES = cast(Table, SchedulerInstance.__table__)

_PENDING, _RUNNING = int(ExecutionStatus.PENDING), int(ExecutionStatus.RUNNING)
# First key of the two-key advisory locks claims take per job (the second is the job id): a constant of our
# own ("JS" in ASCII), so that another application's advisory locks in the same database do not collide.
CLAIM_LOCK_SPACE = 0x4A53
_MISSED, _SKIPPED = int(ExecutionStatus.MISSED), int(ExecutionStatus.SKIPPED)

# --- PostgreSQL: statements written once, their batches passed as arrays. Whatever the batch size, each is
# one entry in SQLAlchemy's compiled cache and one prepared statement per asyncpg connection, whose plan the
# server caches (a generic plan). Runs are found by their unique execution_id (`= ANY(array)`); their status
# is tested as `status_id + 0`, a condition no index serves: otherwise a generic plan may read every pending
# (or running) run through ix_scheduled_job_execution_open for each batch, since it cannot know how many
# ids the array holds.

# Claim, step 1: the claimer's instance row FOR SHARE (ordered with the sweep's verdict, see claim_executions),
# then, unless it is stopped, the pending runs, and per job a transaction-scoped advisory lock taken in job-id
# order (claimers of one job queue behind each other, so max_instances is counted by one at a time, and never
# deadlock). Not a row lock on the job: the timekeeper holds its due jobs' rows (FOR NO KEY UPDATE) while it
# writes their next slots, and a claim of the previous slot must not wait for that pass, nor make the pass skip
# the job. FOR KEY SHARE only keeps the job from being deleted under the claim. One row at least: a claimer
# with nothing to claim still learns its instance's status. Output columns are computed after the ORDER BY's
# sort, row by row: each row's `now` is read after its own and every earlier row's lock, so the last row's
# is after all of them.
_CLAIM_PENDING_POSTGRES = text(
    f"""
    WITH claimer AS (
        SELECT status FROM scheduler_instance WHERE id = :instance_id FOR SHARE
    ),
    pending AS (
        SELECT e.execution_id, e.job_id, e.scheduled_at, e.trigger, j.misfire_grace_time, j.max_instances,
               j.parameters, j.timeout_seconds, t.key AS task_key
        FROM scheduled_job_execution AS e
        JOIN scheduled_job AS j ON j.id = e.job_id
        JOIN task_function AS t ON t.id = j.task_function_id
        WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.status_id + 0 = {_PENDING}
          AND NOT EXISTS (SELECT FROM claimer WHERE claimer.status = '{InstanceStatus.STOPPED}')
        ORDER BY j.id, e.scheduled_at
        FOR KEY SHARE OF j
    )
    SELECT (SELECT status FROM claimer) AS claimer_status,
           pg_advisory_xact_lock({CLAIM_LOCK_SPACE}, p.job_id) IS NULL AS locked, clock_timestamp() AS now,
           p.execution_id, p.job_id, p.scheduled_at, p.trigger, p.misfire_grace_time, p.max_instances,
           p.parameters, p.timeout_seconds, p.task_key
    FROM (VALUES (1)) AS anchor (one) LEFT JOIN pending AS p ON true
    ORDER BY p.job_id, p.scheduled_at
    """
).columns(
    column("claimer_status", String()),
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

# Claim, step 2, under the job locks of step 1: its own statement so that its snapshot, taken after those
# locks, sees every claim of these jobs that committed before them. Live locks are counted per job; the
# candidates still pending take the places left under max_instances in slot order and become running with
# a lock (started at the later of now and their slot); the others are closed as skipped, unless their slot is
# still ahead (left pending and returned with a NULL status: not due), and the missed ones (judged by the caller
# from step 1) as missed.
_CLAIM_DECIDE_POSTGRES = text(
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
        SELECT c.execution_id, c.scheduled_at, c.max_instances, c.place,
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
               'skipped: ' || c.max_instances
                   || ' run(s) of the job already running (max_instances=' || c.max_instances || ')' AS reason
        FROM counted AS c
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
    )
    SELECT c.execution_id, c.status_id, c.error_message FROM changed AS c
    UNION ALL
    SELECT v.execution_id, NULL, NULL FROM verdicts AS v WHERE v.status_id IS NULL
    """
)

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing. The caller's locks
# of these runs are released either way, in the same statement.
_RECORD_OUTCOMES_POSTGRES = text(
    f"""
    WITH released AS (
        DELETE FROM scheduled_job_lock
        WHERE execution_id = ANY(CAST(:ids AS varchar[])) AND locked_by = :instance_id
    )
    UPDATE scheduled_job_execution AS e
    SET status_id = o.status_id,
        completed_at = clock_timestamp(),
        duration_ms = o.duration_ms,
        result_summary = o.result_summary,
        error_message = o.error_message,
        error_traceback = o.error_traceback
    FROM unnest(CAST(:ids AS varchar[]), CAST(:statuses AS integer[]), CAST(:durations AS integer[]),
                CAST(:results AS text[]), CAST(:errors AS text[]), CAST(:tracebacks AS text[]))
         AS o(execution_id, status_id, duration_ms, result_summary, error_message, error_traceback)
    WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.execution_id = o.execution_id
      AND e.status_id + 0 = {_RUNNING} AND e.executor_id = :instance_id
    RETURNING e.execution_id
    """
)

# --- SQLite (embedded mode): plain statements on the transaction's sqlite3 connection (see sqlite.py). The
# transaction holds SQLite's one write lock (BEGIN IMMEDIATE), which does what the row and advisory locks do
# on PostgreSQL: nobody else claims, passes or finishes until it commits. `{}` takes an IN list's placeholders.
_INSTANCE_STATUS_SQLITE = "SELECT status FROM scheduler_instance WHERE id = ?"

_SELECT_PENDING_SQLITE = f"""
    SELECT e.execution_id, e.job_id, e.scheduled_at, e.trigger, j.misfire_grace_time, j.max_instances,
           j.parameters, j.timeout_seconds, t.key
    FROM scheduled_job_execution AS e
    JOIN scheduled_job AS j ON j.id = e.job_id
    JOIN task_function AS t ON t.id = j.task_function_id
    WHERE e.execution_id IN ({{}}) AND e.status_id = {_PENDING}
    ORDER BY j.id, e.scheduled_at
"""

_COUNT_LIVE_LOCKS_SQLITE = """
    SELECT job_id, count(*) FROM scheduled_job_lock WHERE job_id IN ({}) AND expires_at > ? GROUP BY job_id
"""

# max() of two instants as stored text: one fixed-width format, so the text order is the time order.
_MARK_RUNNING_SQLITE = f"""
    UPDATE scheduled_job_execution
    SET status_id = {_RUNNING}, executor_id = ?, host_name = ?, started_at = max(?, scheduled_at)
    WHERE execution_id IN ({{}}) AND status_id = {_PENDING}
    RETURNING execution_id
"""

_INSERT_LOCK_SQLITE = """
    INSERT INTO scheduled_job_lock (job_id, execution_id, locked_by, locked_at, expires_at) VALUES (?, ?, ?, ?, ?)
"""

_CLOSE_PENDING_SQLITE = f"""
    UPDATE scheduled_job_execution SET status_id = ?, completed_at = ?, error_message = ?
    WHERE execution_id = ? AND status_id = {_PENDING}
"""

_RECORD_OUTCOME_SQLITE = f"""
    UPDATE scheduled_job_execution
    SET status_id = ?, completed_at = ?, duration_ms = ?, result_summary = ?, error_message = ?, error_traceback = ?
    WHERE execution_id = ? AND status_id = {_RUNNING} AND executor_id = ?
"""

_RELEASE_LOCKS_SQLITE = "DELETE FROM scheduled_job_lock WHERE execution_id IN ({}) AND locked_by = ?"


@dataclass(frozen=True, slots=True)
class _PendingRow:
    """A pending run as _SELECT_PENDING_SQLITE reads it (the names _missed_reason and _claimed_run read)."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    trigger: str
    misfire_grace_time: int
    max_instances: int
    parameters: dict[str, Any] | None
    timeout_seconds: int | None
    task_key: str


def _missed_reason(row: Any, now: datetime) -> str | None:
    """Why a run picked up at `now` is missed, or None: scheduled runs only, later than their job's
    misfire_grace_time in whole seconds."""
    if row.trigger != Trigger.SCHEDULE:
        return None
    lateness = (now - row.scheduled_at).total_seconds()
    if not _past_grace(lateness, row.misfire_grace_time):
        return None
    return (
        f"missed: picked up {lateness:.1f} s after its scheduled time, "
        f"past the job's misfire grace time of {row.misfire_grace_time} s"
    )


def _past_grace(lateness: float, grace: int) -> bool:
    """The misfire rule: a scheduled run is missed once its lateness in whole seconds exceeds the grace time."""
    return math.floor(lateness) > grace


def _unclaimed_reason(lateness: float, grace: int) -> str:
    return (
        f"missed: not claimed by any executor within the job's misfire grace time of {grace} s (still pending "
        f"{lateness:.1f} s after its scheduled time: no executor was consuming, or the broker lost its message)"
    )


def _skipped_reason(max_instances: int) -> str:
    # _CLAIM_DECIDE_POSTGRES writes the same text. A run is skipped when at least max_instances are running.
    return f"skipped: {max_instances} run(s) of the job already running (max_instances={max_instances})"


def _claimed_run(row: Any, now: datetime) -> ClaimedRun:
    # A run claimed ahead of its slot starts at the slot (_CLAIM_DECIDE_POSTGRES records the same instant).
    started_at = max(now, row.scheduled_at)
    return ClaimedRun(
        execution_id=row.execution_id,
        job_id=row.job_id,
        scheduled_at=row.scheduled_at,
        started_at=started_at,
        task_key=row.task_key,
        parameters=row.parameters,
        timeout_seconds=row.timeout_seconds,
        start_in=(started_at - now).total_seconds(),
    )


def _not_due(execution_id: str, scheduled_at: datetime, now: datetime) -> ClaimResult:
    return ClaimResult(ClaimOutcome.NOT_DUE, execution_id, due_in=(scheduled_at - now).total_seconds())


class RunRepository:
    async def claim_execution(
        self, session: AsyncSession, execution_id: str, *, instance_id: str, host_name: str, lock_ttl: float
    ) -> ClaimResult:
        """Claim one run (see claim_executions)."""
        (result,) = await self.claim_executions(
            session, [execution_id], instance_id=instance_id, host_name=host_name, lock_ttl=lock_ttl
        )
        return result

    async def claim_executions(
        self,
        session: AsyncSession,
        execution_ids: Sequence[str],
        *,
        instance_id: str,
        host_name: str,
        lock_ttl: float,
    ) -> list[ClaimResult]:
        """Claim pending runs for this executor, each atomically with its lock; results in input order.

        Under row locks on the runs' jobs, taken in job-id order so that concurrent claimers never deadlock
        (and so that concurrent claims of one job see each other's locks): a run that is not pending is left
        alone (a duplicate delivery); a scheduled run picked up more than its job's misfire_grace_time (whole
        seconds) after its slot is recorded missed; a run beyond max_instances live locks (earlier slots
        first) is recorded skipped, or left pending as NOT_DUE if its slot is still ahead (runs are delivered
        up to the timekeeper's look-ahead early); the others become running, owned by instance_id, with a
        lock that expires lock_ttl seconds from now unless renewed, and started_at the later of now and
        their slot (ClaimedRun.start_in says how long the executor waits to start one claimed early). An id
        repeated in the batch (a message delivered twice at once) is claimed for its first occurrence only; the
        others are ALREADY_HANDLED.

        A claimer that the sweep has declared stopped (frozen past its instance timeout) claims nothing: every
        result is REFUSED. Its instance row is read FOR SHARE, so the sweep's verdict and this claim are
        ordered: either the claim commits first and the sweep then fails its runs, or it sees the verdict.

        PostgreSQL: two statements whatever the batch size (one if nothing in the batch is pending or the
        claimer is refused), each written once with the batch as array parameters. SQLite: up to five, plus
        one per run closed as missed or skipped (in-process, a statement costs no round trip)."""
        if not execution_ids:
            return []
        if is_postgres(session):
            results = await self._claim_postgres(session, execution_ids, instance_id, host_name, lock_ttl)
        else:
            results = await self._claim_sqlite(session, execution_ids, instance_id, host_name, lock_ttl)
        if results is None:
            return [ClaimResult(ClaimOutcome.REFUSED, eid) for eid in execution_ids]
        ordered = []
        for eid in execution_ids:
            # A repeated id: its first occurrence took the result, the others are duplicates.
            result = results.pop(eid, None)
            ordered.append(result if result is not None else ClaimResult(ClaimOutcome.ALREADY_HANDLED, eid))
        return ordered

    @staticmethod
    async def _claim_postgres(
        session: AsyncSession, execution_ids: Sequence[str], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        """Claim results by execution id (those not pending absent), or None if the claimer is refused."""
        rows = (
            await session.execute(_CLAIM_PENDING_POSTGRES, {"ids": list(execution_ids), "instance_id": instance_id})
        ).all()
        if rows[0].claimer_status == InstanceStatus.STOPPED:
            return None
        results: dict[str, ClaimResult] = {}
        if rows[0].execution_id is None:  # the anchor row alone: nothing pending
            return results
        now: datetime = rows[-1].now  # read after every job's lock (see _CLAIM_PENDING_POSTGRES)
        candidate_ids: list[str] = []
        missed_ids: list[str] = []
        missed_reasons: list[str] = []
        for row in rows:
            reason = _missed_reason(row, now)
            if reason is None:
                candidate_ids.append(row.execution_id)
            else:
                missed_ids.append(row.execution_id)
                missed_reasons.append(reason)
        changed = await session.execute(
            _CLAIM_DECIDE_POSTGRES,
            {
                "candidate_ids": candidate_ids,
                "missed_ids": missed_ids,
                "missed_reasons": missed_reasons,
                "now": now,
                "expires_at": now + timedelta(seconds=lock_ttl),
                "instance_id": instance_id,
                "host_name": host_name,
            },
        )
        by_id = {row.execution_id: row for row in rows}
        for execution_id, status_id, reason in changed.all():
            if status_id is None:
                results[execution_id] = _not_due(execution_id, by_id[execution_id].scheduled_at, now)
            elif status_id == _RUNNING:
                results[execution_id] = ClaimResult(
                    ClaimOutcome.CLAIMED, execution_id, run=_claimed_run(by_id[execution_id], now)
                )
            else:
                outcome = ClaimOutcome.MISSED if status_id == _MISSED else ClaimOutcome.SKIPPED
                results[execution_id] = ClaimResult(outcome, execution_id, reason=reason)
        return results

    @staticmethod
    async def _claim_sqlite(
        session: AsyncSession, execution_ids: Sequence[str], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        """The same claim on SQLite, under the transaction's write lock."""
        connection = await sqlite_connection(session)
        status = connection.execute(_INSTANCE_STATUS_SQLITE, (instance_id,)).fetchone()
        # An unregistered claimer (tests, tools) is not refused: only a verdict of the sweep stops a claim.
        if status is not None and status[0] == InstanceStatus.STOPPED:
            return None
        results: dict[str, ClaimResult] = {}
        unique = list(dict.fromkeys(execution_ids))
        rows = [
            _PendingRow(eid, job_id, from_instant(slot), trigger, grace, limit, from_json(parameters), timeout, key)
            for eid, job_id, slot, trigger, grace, limit, parameters, timeout, key in connection.execute(
                _SELECT_PENDING_SQLITE.format(placeholders(len(unique))), unique
            )
        ]
        if not rows:
            return results
        now = datetime.now(UTC)  # SQLite runs in this process: its clock is this host's
        stored_now = to_instant(now)

        live: dict[int, int] = defaultdict(int)
        job_ids = list({row.job_id for row in rows})
        counted = connection.execute(
            _COUNT_LIVE_LOCKS_SQLITE.format(placeholders(len(job_ids))), [*job_ids, stored_now]
        )
        for job_id, count in counted:
            live[job_id] = count

        to_claim: list[_PendingRow] = []
        closed: list[tuple[str, ExecutionStatus, str]] = []
        for row in rows:
            reason = _missed_reason(row, now)
            if reason is not None:
                closed.append((row.execution_id, ExecutionStatus.MISSED, reason))
            elif live[row.job_id] >= row.max_instances:
                if row.scheduled_at > now:
                    results[row.execution_id] = _not_due(row.execution_id, row.scheduled_at, now)
                else:
                    closed.append((row.execution_id, ExecutionStatus.SKIPPED, _skipped_reason(row.max_instances)))
            else:
                live[row.job_id] += 1
                to_claim.append(row)

        if to_claim:
            ids = [row.execution_id for row in to_claim]
            marked = connection.execute(
                _MARK_RUNNING_SQLITE.format(placeholders(len(ids))), [instance_id, host_name, stored_now, *ids]
            )
            claimed = {row[0] for row in marked}
            expires_at = to_instant(now + timedelta(seconds=lock_ttl))
            connection.executemany(
                _INSERT_LOCK_SQLITE,
                [
                    (row.job_id, row.execution_id, instance_id, stored_now, expires_at)
                    for row in to_claim
                    if row.execution_id in claimed
                ],
            )
            for row in to_claim:
                if row.execution_id in claimed:
                    run = _claimed_run(row, now)
                    results[row.execution_id] = ClaimResult(ClaimOutcome.CLAIMED, row.execution_id, run=run)
        for execution_id, closed_status, reason in closed:
            closing = (int(closed_status), stored_now, reason, execution_id)
            if connection.execute(_CLOSE_PENDING_SQLITE, closing).rowcount:
                outcome = ClaimOutcome.MISSED if closed_status == ExecutionStatus.MISSED else ClaimOutcome.SKIPPED
                results[execution_id] = ClaimResult(outcome, execution_id, reason=reason)
        return results

    async def finish_execution(
        self,
        session: AsyncSession,
        execution_id: str,
        *,
        instance_id: str,
        status: ExecutionStatus,
        duration_ms: int,
        result_summary: str | None = None,
        error_message: str | None = None,
        error_traceback: str | None = None,
    ) -> bool:
        """Record one run's outcome (see finish_executions)."""
        outcome = RunOutcome(execution_id, status, duration_ms, result_summary, error_message, error_traceback)
        return execution_id in await self.finish_executions(session, [outcome], instance_id=instance_id)

    async def finish_executions(
        self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str
    ) -> set[str]:
        """Record outcomes, fenced: each only while its run is still `running` under instance_id. A stale
        executor (its run already failed by the sweep) changes nothing for that run. Releases the runs' locks
        either way. Returns the execution ids whose outcome was recorded. PostgreSQL: one statement per batch
        (the batch as array parameters); SQLite: one per outcome, then one releasing the locks."""
        if not outcomes:
            return set()
        if is_postgres(session):
            return await self._record_outcomes_postgres(session, outcomes, instance_id)
        return await self._record_outcomes_sqlite(session, outcomes, instance_id)

    @staticmethod
    async def _record_outcomes_postgres(
        session: AsyncSession, outcomes: Sequence[RunOutcome], instance_id: str
    ) -> set[str]:
        """One UPDATE for the whole batch (and the DELETE of its locks), its rows passed as arrays."""
        result = await session.execute(
            _RECORD_OUTCOMES_POSTGRES,
            {
                "ids": [o.execution_id for o in outcomes],
                "statuses": [int(o.status) for o in outcomes],
                "durations": [o.duration_ms for o in outcomes],
                "results": [o.result_summary for o in outcomes],
                "errors": [o.error_message for o in outcomes],
                "tracebacks": [o.error_traceback for o in outcomes],
                "instance_id": instance_id,
            },
        )
        return {row[0] for row in result.all()}

    @staticmethod
    async def _record_outcomes_sqlite(
        session: AsyncSession, outcomes: Sequence[RunOutcome], instance_id: str
    ) -> set[str]:
        """One UPDATE per outcome (a few µs each in-process, and the ids recorded are known), then one DELETE
        releasing the caller's locks of the batch."""
        connection = await sqlite_connection(session)
        completed_at = to_instant(datetime.now(UTC))
        recorded: set[str] = set()
        for o in outcomes:
            values = (
                int(o.status),
                completed_at,
                o.duration_ms,
                o.result_summary,
                o.error_message,
                o.error_traceback,
                o.execution_id,
                instance_id,
            )
            if connection.execute(_RECORD_OUTCOME_SQLITE, values).rowcount:
                recorded.add(o.execution_id)
        ids = [o.execution_id for o in outcomes]
        connection.execute(_RELEASE_LOCKS_SQLITE.format(placeholders(len(ids))), [*ids, instance_id])
        return recorded

    async def fail_runs_of_instance(
        self, session: AsyncSession, instance_id: str, execution_ids: Sequence[str], reason: str
    ) -> int:
        """Fail runs this instance still holds (graceful shutdown past its grace period)."""
        if not execution_ids:
            return 0
        result = await session.execute(
            update(ScheduledJobExecution)
            .where(
                ScheduledJobExecution.execution_id.in_(execution_ids),
                ScheduledJobExecution.status_id == ExecutionStatus.RUNNING,
                ScheduledJobExecution.executor_id == instance_id,
            )
            .values(status_id=ExecutionStatus.FAILED, completed_at=now_expr(session), error_message=reason)
            .returning(ScheduledJobExecution.execution_id)
        )
        failed = len(result.all())
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.execution_id.in_(execution_ids), ScheduledJobLock.locked_by == instance_id
            )
        )
        return failed

    async def close_unclaimed_runs(self, session: AsyncSession, now: datetime, limit: int) -> list[UnclaimedRun]:
        """Record missed the scheduled runs still pending past their job's misfire grace time (the rule of the
        claim: whole seconds of lateness above the grace), up to `limit`, oldest slots first.

        Whoever claimed such a run now would record it missed, so this changes no verdict; it only comes without
        a claim. That matters when none will come: the broker confirmed the run's message and then lost it (a
        purged or deleted queue, a lost node), so the outbox will not publish it again, and the run would stay
        pending for ever, silently. Manual runs have no grace time and are left alone. A run an executor claims
        concurrently is not touched (status re-checked in the UPDATE)."""
        execution, job = ScheduledJobExecution, ScheduledJob
        # Bounded by the smallest possible grace (0 s): the candidates are at least a second late; the open
        # runs' partial index serves the pending status (a literal, as its predicate needs).
        candidates = (
            await session.execute(
                select(execution.execution_id, execution.job_id, execution.scheduled_at, job.misfire_grace_time)
                .join(job, job.id == execution.job_id)
                .where(
                    execution.status_id == PENDING_LITERAL,
                    execution.trigger == Trigger.SCHEDULE,
                    execution.scheduled_at < now - timedelta(seconds=1),
                )
                .order_by(execution.scheduled_at)
                .limit(limit)
            )
        ).all()
        late: dict[str, tuple[int, str]] = {}  # execution id -> (job id, reason)
        for execution_id, job_id, scheduled_at, grace in candidates:
            lateness = (now - scheduled_at).total_seconds()
            if _past_grace(lateness, grace):
                late[execution_id] = (job_id, _unclaimed_reason(lateness, grace))
        if not late:
            return []
        # One UPDATE for all of them, each with its own reason.
        result = await session.execute(
            update(execution)
            .where(execution.execution_id.in_(list(late)), execution.status_id == ExecutionStatus.PENDING)
            .values(
                status_id=ExecutionStatus.MISSED,
                completed_at=now,
                error_message=case({eid: reason for eid, (_, reason) in late.items()}, value=execution.execution_id),
            )
            .returning(execution.execution_id)
        )
        closed = {row[0] for row in result.all()}
        return [UnclaimedRun(eid, job_id, reason) for eid, (job_id, reason) in late.items() if eid in closed]

    async def fail_orphaned_runs(self, session: AsyncSession, now: datetime) -> list[OrphanedRun]:
        """Fail `running` runs whose executor is gone: its instance is stopped (the sweep marks silent
        instances stopped first), or the run's lock expired (not renewed) or vanished. Each gets the
        reason in error_message; their locks are released."""
        execution, lock, instance = ScheduledJobExecution, ScheduledJobLock, SchedulerInstance
        orphans: list[OrphanedRun] = []

        dead_owner = (
            select(instance.id)
            .where(instance.id == execution.executor_id, instance.status == InstanceStatus.STOPPED)
            .exists()
        )
        result = await session.execute(
            update(execution)
            .where(execution.status_id == ExecutionStatus.RUNNING, dead_owner)
            .values(
                status_id=ExecutionStatus.FAILED,
                completed_at=now,
                error_message="executor lost: its instance "
                + execution.executor_id
                + " stopped heartbeating while the run was in progress",
            )
            .returning(execution.execution_id, execution.job_id, execution.executor_id, execution.error_message)
        )
        orphans += [OrphanedRun(r[0], r[1], r[2], r[3] or "") for r in result.all()]

        live_lock = exists().where(lock.execution_id == execution.execution_id, lock.expires_at > now)
        result = await session.execute(
            update(execution)
            .where(execution.status_id == ExecutionStatus.RUNNING, ~live_lock)
            .values(
                status_id=ExecutionStatus.FAILED,
                completed_at=now,
                error_message="executor lost: the run's lock expired without being renewed",
            )
            .returning(execution.execution_id, execution.job_id, execution.executor_id, execution.error_message)
        )
        orphans += [OrphanedRun(r[0], r[1], r[2], r[3] or "") for r in result.all()]

        # Locks of runs that are no longer running (just failed above, or left behind by a crash
        # between finish and release) hold max_instances slots for nothing.
        running = exists().where(
            execution.execution_id == lock.execution_id, execution.status_id == ExecutionStatus.RUNNING
        )
        await session.execute(delete(lock).where(or_(~running, lock.expires_at <= now)))
        return orphans

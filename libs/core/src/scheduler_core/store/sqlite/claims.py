"""The claim on SQLite, as plain statements on the transaction's sqlite3 connection (connection.py says why): a
few per batch, plus one per run closed, queued or replaced (in-process, a statement costs no round trip). The
transaction holds SQLite's one write lock (BEGIN IMMEDIATE), which does what the row and advisory locks do on
PostgreSQL: nobody else claims, passes or finishes until it commits. The verdicts are portable.claims.decide's,
the same code as on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.claims import ClaimOutcome, ClaimResult, RunSlot
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, OverlapPolicy
from scheduler_core.store.portable.claims import (
    OUTCOME_OF,
    BatchClaims,
    JobState,
    Verdict,
    claimed_run,
    decide,
    not_due,
    waits_in_queue,
)
from scheduler_core.store.sqlite.connection import from_instant, from_json, placeholders, sqlite_connection, to_instant

_PENDING, _RUNNING, _WAITING = int(ExecutionStatus.PENDING), int(ExecutionStatus.RUNNING), int(ExecutionStatus.WAITING)
_CLOSED_STATUS: Final = {Verdict.MISSED: int(ExecutionStatus.MISSED), Verdict.SKIPPED: int(ExecutionStatus.SKIPPED)}

_INSTANCE_STATUS: Final = "SELECT status FROM scheduler_instance WHERE id = ?"
# `{}` takes an IN list's placeholders.
_SELECT_PENDING: Final = f"""
    SELECT e.execution_id, e.job_id, e.scheduled_at, e.trigger, e.attempt, j.misfire_grace_time, j.max_instances,
           j.overlap_policy, j.parameters, j.timeout_seconds, t.key
    FROM scheduled_job_execution AS e
    JOIN scheduled_job AS j ON j.id = e.job_id
    JOIN task_function AS t ON t.id = j.task_function_id
    WHERE e.execution_id IN ({{}}) AND e.status_id = {_PENDING}
    ORDER BY j.id, e.scheduled_at, e.attempt
"""
_COUNT_LIVE_LOCKS: Final = """
    SELECT job_id, count(*) FROM scheduled_job_lock WHERE job_id IN ({}) AND expires_at > ? GROUP BY job_id
"""
_QUEUE_HEAD: Final = """
    SELECT scheduled_at, attempt, execution_id FROM scheduled_job_execution
    WHERE job_id = ? AND queued_at IS NOT NULL AND status_id IN (1, 8)
    ORDER BY scheduled_at, attempt LIMIT 1
"""
_OLDEST_RUNNING: Final = f"""
    SELECT r.execution_id, r.scheduled_at FROM scheduled_job_lock AS l
    JOIN scheduled_job_execution AS r ON r.execution_id = l.execution_id
    WHERE l.job_id = ? AND l.expires_at > ? AND r.status_id = {_RUNNING} AND r.cancel_requested_at IS NULL
    ORDER BY l.locked_at, l.id LIMIT 1
"""
# max() of two instants as stored text: one fixed-width format, so the text order is the time order.
_MARK_RUNNING: Final = f"""
    UPDATE scheduled_job_execution
    SET status_id = {_RUNNING}, executor_id = ?, host_name = ?, claimed_at = ?, started_at = max(?, scheduled_at),
        error_message = NULL
    WHERE execution_id IN ({{}}) AND status_id = {_PENDING}
    RETURNING execution_id
"""
# One statement for a batch's locks, `{}` taking a `(?, ?, ?, ?, ?)` per run; each lock's id (never reused:
# AUTOINCREMENT) is its run's fencing token.
_INSERT_LOCKS: Final = """
    INSERT INTO scheduled_job_lock (job_id, execution_id, locked_by, locked_at, expires_at) VALUES {}
    RETURNING execution_id, id
"""
_CLOSE_PENDING: Final = f"""
    UPDATE scheduled_job_execution SET status_id = ?, completed_at = ?, error_message = ?
    WHERE execution_id = ? AND status_id = {_PENDING}
"""
_QUEUE_PENDING: Final = f"""
    UPDATE scheduled_job_execution
    SET status_id = {_WAITING}, error_message = ?, queued_at = coalesce(queued_at, ?), release_at = NULL,
        published_at = NULL
    WHERE execution_id = ? AND status_id = {_PENDING}
"""
_REQUEST_CANCEL: Final = f"""
    UPDATE scheduled_job_execution SET cancel_requested_at = ?, cancelled_by = ?
    WHERE execution_id = ? AND status_id = {_RUNNING} AND cancel_requested_at IS NULL
"""
# Mirrored on the lock, which the executor's lease renewal reads (migration 0011).
_MIRROR_CANCEL: Final = "UPDATE scheduled_job_lock SET cancel_requested_by = ? WHERE execution_id = ?"


@cache
def _insert_locks(count: int) -> str:
    """_INSERT_LOCKS for `count` runs (one SQL text per batch size, which sqlite3 caches)."""
    return _INSERT_LOCKS.format(", ".join(["(?, ?, ?, ?, ?)"] * count))


@dataclass(frozen=True, slots=True)
class _PendingRow:
    """A pending run as _SELECT_PENDING reads it (a portable.claims.PendingRun)."""

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


class SqliteClaims(BatchClaims):
    async def _claim(
        self, session: AsyncSession, runs: Sequence[RunSlot], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        connection = await sqlite_connection(session)
        status = connection.execute(_INSTANCE_STATUS, (instance_id,)).fetchone()
        # An unregistered claimer (tests, tools) is not refused: only a verdict of the sweep stops a claim.
        if status is not None and status[0] == InstanceStatus.STOPPED:
            return None
        results: dict[str, ClaimResult] = {}
        # By execution id alone (its slot is no partition key here); a run given with another slot is not this run.
        wanted = set(runs)
        unique = list(dict.fromkeys(run.execution_id for run in runs))
        found = connection.execute(_SELECT_PENDING.format(placeholders(len(unique))), unique)
        rows = [
            _PendingRow(
                eid, job, from_instant(slot), trigger, attempt, grace, limit, policy, from_json(params), tmo, key
            )
            for eid, job, slot, trigger, attempt, grace, limit, policy, params, tmo, key in found
        ]
        rows = [row for row in rows if RunSlot(row.execution_id, row.scheduled_at) in wanted]
        if not rows:
            return results
        now = datetime.now(UTC)  # the database clock (see clock.py)
        stored_now = to_instant(now)

        states = {row.job_id: JobState(live=0) for row in rows}
        counted = connection.execute(_COUNT_LIVE_LOCKS.format(placeholders(len(states))), [*states, stored_now])
        for job_id, count in counted:
            states[job_id].live = count
        for row in rows:
            state = states[row.job_id]
            if waits_in_queue(row) and state.queue_head is None:
                head = connection.execute(_QUEUE_HEAD, (row.job_id,)).fetchone()
                if head is not None:
                    state.queue_head = (from_instant(head[0]), head[1], head[2])
            if row.overlap_policy == OverlapPolicy.REPLACE and state.oldest_running is None:
                oldest = connection.execute(_OLDEST_RUNNING, (row.job_id, stored_now)).fetchone()
                state.oldest_running = None if oldest is None else RunSlot(oldest[0], from_instant(oldest[1]))
        decisions = decide(rows, states, now)

        by_id = {row.execution_id: row for row in rows}
        to_claim = [by_id[v.execution_id] for v in decisions.verdicts if v.verdict is Verdict.RUN]
        if to_claim:
            ids = [row.execution_id for row in to_claim]
            marked = connection.execute(
                _MARK_RUNNING.format(placeholders(len(ids))), [instance_id, host_name, stored_now, stored_now, *ids]
            )
            claimed = {row[0] for row in marked}
            expires_at = to_instant(now + timedelta(seconds=lock_ttl))
            locks = [row for row in to_claim if row.execution_id in claimed]
            tokens: dict[str, int] = {}
            if locks:
                values = [v for r in locks for v in (r.job_id, r.execution_id, instance_id, stored_now, expires_at)]
                inserted = connection.execute(_insert_locks(len(locks)), values)
                tokens = dict(inserted.fetchall())
            for row in locks:
                run = claimed_run(row, now, tokens[row.execution_id])
                results[row.execution_id] = ClaimResult(ClaimOutcome.CLAIMED, row.execution_id, run=run)
        for verdict in decisions.verdicts:
            eid, reason = verdict.execution_id, verdict.reason
            if verdict.verdict is Verdict.NOT_DUE:
                results[eid] = not_due(eid, by_id[eid].scheduled_at, now)
            elif verdict.verdict is Verdict.QUEUED:
                if connection.execute(_QUEUE_PENDING, (reason, stored_now, eid)).rowcount:
                    results[eid] = ClaimResult(ClaimOutcome.QUEUED, eid, reason=reason)
            elif verdict.verdict in _CLOSED_STATUS:
                closing = (_CLOSED_STATUS[verdict.verdict], stored_now, reason, eid)
                if connection.execute(_CLOSE_PENDING, closing).rowcount:
                    results[eid] = ClaimResult(OUTCOME_OF[verdict.verdict], eid, reason=reason)
        for replaced, by in decisions.replaced.items():
            if connection.execute(_REQUEST_CANCEL, (stored_now, by, replaced.execution_id)).rowcount:
                connection.execute(_MIRROR_CANCEL, (by, replaced.execution_id))
        return results

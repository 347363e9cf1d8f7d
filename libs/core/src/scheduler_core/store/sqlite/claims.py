"""The claim on SQLite, as plain statements on the transaction's sqlite3 connection (connection.py says why): up
to five, plus one per run closed as missed or skipped (in-process, a statement costs no round trip). The
transaction holds SQLite's one write lock (BEGIN IMMEDIATE), which does what the row and advisory locks do on
PostgreSQL: nobody else claims, passes or finishes until it commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.store.claims import ClaimOutcome, ClaimResult
from scheduler_core.store.models import ExecutionStatus, InstanceStatus
from scheduler_core.store.portable.claims import BatchClaims, claimed_run, missed_reason, not_due
from scheduler_core.store.sqlite.connection import from_instant, from_json, placeholders, sqlite_connection, to_instant

_PENDING, _RUNNING = int(ExecutionStatus.PENDING), int(ExecutionStatus.RUNNING)

_INSTANCE_STATUS: Final = "SELECT status FROM scheduler_instance WHERE id = ?"
# `{}` takes an IN list's placeholders.
_SELECT_PENDING: Final = f"""
    SELECT e.execution_id, e.job_id, e.scheduled_at, e.trigger, j.misfire_grace_time, j.max_instances,
           j.parameters, j.timeout_seconds, t.key
    FROM scheduled_job_execution AS e
    JOIN scheduled_job AS j ON j.id = e.job_id
    JOIN task_function AS t ON t.id = j.task_function_id
    WHERE e.execution_id IN ({{}}) AND e.status_id = {_PENDING}
    ORDER BY j.id, e.scheduled_at
"""
_COUNT_LIVE_LOCKS: Final = """
    SELECT job_id, count(*) FROM scheduled_job_lock WHERE job_id IN ({}) AND expires_at > ? GROUP BY job_id
"""
# max() of two instants as stored text: one fixed-width format, so the text order is the time order.
_MARK_RUNNING: Final = f"""
    UPDATE scheduled_job_execution
    SET status_id = {_RUNNING}, executor_id = ?, host_name = ?, started_at = max(?, scheduled_at)
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


@cache
def _insert_locks(count: int) -> str:
    """_INSERT_LOCKS for `count` runs (one SQL text per batch size, which sqlite3 caches)."""
    return _INSERT_LOCKS.format(", ".join(["(?, ?, ?, ?, ?)"] * count))


@dataclass(frozen=True, slots=True)
class _PendingRow:
    """A pending run as _SELECT_PENDING reads it (a portable.claims.PendingRun, plus max_instances)."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    trigger: str
    misfire_grace_time: int
    max_instances: int
    parameters: dict[str, Any] | None
    timeout_seconds: int | None
    task_key: str


class SqliteClaims(BatchClaims):
    async def _claim(
        self, session: AsyncSession, execution_ids: Sequence[str], instance_id: str, host_name: str, lock_ttl: float
    ) -> dict[str, ClaimResult] | None:
        connection = await sqlite_connection(session)
        status = connection.execute(_INSTANCE_STATUS, (instance_id,)).fetchone()
        # An unregistered claimer (tests, tools) is not refused: only a verdict of the sweep stops a claim.
        if status is not None and status[0] == InstanceStatus.STOPPED:
            return None
        results: dict[str, ClaimResult] = {}
        unique = list(dict.fromkeys(execution_ids))
        rows = [
            _PendingRow(eid, job_id, from_instant(slot), trigger, grace, limit, from_json(parameters), timeout, key)
            for eid, job_id, slot, trigger, grace, limit, parameters, timeout, key in connection.execute(
                _SELECT_PENDING.format(placeholders(len(unique))), unique
            )
        ]
        if not rows:
            return results
        now = datetime.now(UTC)  # the database clock (see clock.py)
        stored_now = to_instant(now)

        live: dict[int, int] = defaultdict(int)
        job_ids = list({row.job_id for row in rows})
        counted = connection.execute(_COUNT_LIVE_LOCKS.format(placeholders(len(job_ids))), [*job_ids, stored_now])
        for job_id, count in counted:
            live[job_id] = count

        to_claim: list[_PendingRow] = []
        closed: list[tuple[str, ExecutionStatus, str]] = []
        for row in rows:
            reason = missed_reason(row, now)
            if reason is not None:
                closed.append((row.execution_id, ExecutionStatus.MISSED, reason))
            elif live[row.job_id] >= row.max_instances:
                if row.scheduled_at > now:
                    results[row.execution_id] = not_due(row.execution_id, row.scheduled_at, now)
                else:
                    closed.append((row.execution_id, ExecutionStatus.SKIPPED, verdicts.skipped(row.max_instances)))
            else:
                live[row.job_id] += 1
                to_claim.append(row)

        if to_claim:
            ids = [row.execution_id for row in to_claim]
            marked = connection.execute(
                _MARK_RUNNING.format(placeholders(len(ids))), [instance_id, host_name, stored_now, *ids]
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
        for execution_id, closed_status, reason in closed:
            closing = (int(closed_status), stored_now, reason, execution_id)
            if connection.execute(_CLOSE_PENDING, closing).rowcount:
                outcome = ClaimOutcome.MISSED if closed_status == ExecutionStatus.MISSED else ClaimOutcome.SKIPPED
                results[execution_id] = ClaimResult(outcome, execution_id, reason=reason)
        return results

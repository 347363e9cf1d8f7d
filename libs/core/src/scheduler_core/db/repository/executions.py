"""Executions: the outbox the timekeeper writes, the claim and the fenced finish of the executor, the
recovery sweep, history pages and retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    delete,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scheduler_core.db.models import (
    ExecutionStatus,
    ScheduledJob,
    ScheduledJobExecution,
    Trigger,
)
from scheduler_core.db.repository.clock import is_postgres
from scheduler_core.db.repository.sqlite import placeholders, sqlite_connection, to_instant

Execution = ScheduledJobExecution
_OPEN = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
_PENDING = int(ExecutionStatus.PENDING)
_EXECUTIONS = cast(Table, ScheduledJobExecution.__table__)
# `status_id = 1` rendered as a literal, not a bound parameter: the outbox's partial index is declared on
# `status_id = 1 AND published_at IS NULL`, and a planner can only use it when the query's predicate visibly
# implies the index's (a generic plan of `status_id = $1`, or SQLite's `status_id = ?`, does not).
PENDING_LITERAL: ColumnElement[int] = literal_column(str(int(ExecutionStatus.PENDING)), Integer())

# Confirmations matter only for runs still pending (the relay looks at nothing else): a run already claimed is
# not touched, which spares a row version per run and never locks a row an executor is about to claim. Written
# without waiting: a row an executor holds locked at this instant (claiming it) is skipped, so the timekeeper's
# pass never waits on an executor's transaction, and never deadlocks with one while it holds its jobs' rows.
MARK_PUBLISHED_SQL = f"""
    UPDATE scheduled_job_execution AS e
    SET published_at = m.published_at
    FROM (
        SELECT x.id, p.published_at
        FROM unnest(CAST(:published_ids AS varchar[]), CAST(:published_ats AS timestamptz[]))
             AS p(execution_id, published_at)
        JOIN scheduled_job_execution AS x ON x.execution_id = p.execution_id
        WHERE x.status_id = {int(ExecutionStatus.PENDING)}
        FOR UPDATE OF x SKIP LOCKED
    ) AS m
    WHERE e.id = m.id
    RETURNING e.execution_id
"""
_MARK_PUBLISHED_POSTGRES = text(MARK_PUBLISHED_SQL)


@dataclass(frozen=True, slots=True)
class NewExecution:
    """One row for the timekeeper (or a manual trigger) to write."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    status_id: int = ExecutionStatus.PENDING
    trigger: str = Trigger.SCHEDULE
    coalesced_count: int = 1
    coalesced_from: datetime | None = None
    error_message: str | None = None  # the reason, for rows written terminal (missed)
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublishedRun:
    """A run whose message the broker confirmed at `published_at` (the database clock's instant)."""

    execution_id: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class ExecutionFilters:
    status_id: int | None = None


class ExecutionRepository:
    # --- reference methods ------------------------------------------------------------------------

    async def create_execution(self, session: AsyncSession, exec_data: Mapping[str, Any]) -> Execution:
        execution = ScheduledJobExecution(**exec_data)
        session.add(execution)
        await session.flush()
        found = await self.get_execution(session, execution.execution_id)
        assert found is not None
        return found

    async def update_execution(
        self, session: AsyncSession, execution_id: str, update_data: Mapping[str, Any]
    ) -> Execution:
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == execution_id)
            .values(**update_data)
        )
        found = await self.get_execution(session, execution_id)
        if found is None:
            raise LookupError(f"execution {execution_id} does not exist")
        return found

    async def get_executions(
        self,
        session: AsyncSession,
        job_id: int | None,
        filters: ExecutionFilters,
        page: int,
        per_page: int,
    ) -> tuple[list[Execution], int]:
        """History, newest first; job_id None means across all jobs."""
        conditions: list[ColumnElement[bool]] = []
        if job_id is not None:
            conditions.append(ScheduledJobExecution.job_id == job_id)
        if filters.status_id is not None:
            conditions.append(ScheduledJobExecution.status_id == filters.status_id)
        total = (
            await session.execute(select(func.count()).select_from(ScheduledJobExecution).where(*conditions))
        ).scalar_one()
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(*conditions)
            .order_by(ScheduledJobExecution.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list((await session.execute(query)).scalars().all()), int(total)

    # --- outbox (timekeeper) ------------------------------------------------------------------------

    async def get_execution(self, session: AsyncSession, execution_id: str) -> Execution | None:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.execution_id == execution_id)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def create_executions(self, session: AsyncSession, rows: Sequence[NewExecution]) -> list[str]:
        """Insert many executions (a few multi-row statements); a row whose (job_id, scheduled_at) already exists is
        skipped, not an error (another timekeeper wrote it). Returns the execution ids actually written."""
        return await insert_executions(session, rows)

    async def mark_published(self, session: AsyncSession, execution_ids: Sequence[str], at: datetime) -> None:
        if not execution_ids:
            return
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id.in_(execution_ids))
            .values(published_at=at)
        )

    async def record_published(self, session: AsyncSession, runs: Sequence[PublishedRun]) -> list[str]:
        """Set published_at of runs the broker confirmed that are still pending, each to its own instant;
        returns the ids marked. On PostgreSQL a row locked by another transaction right now (an executor
        claiming it) is skipped, not waited for."""
        return await record_published(session, runs)

    async def forget_publications(self, session: AsyncSession) -> int:
        """Mark every pending run unpublished, so the outbox relay publishes it again. For a broker that
        keeps nothing across restarts (embedded mode's in-process queue): call it once at start-up."""
        return len(await self._forget_publications(session))

    async def forget_stale_manual_publications(
        self, session: AsyncSession, *, published_before: datetime, limit: int
    ) -> list[str]:
        """Mark unpublished the manual runs still pending whose message the broker confirmed before
        `published_before`, up to `limit`, oldest confirmation first; returns their ids. The relay then publishes
        them again.

        A manual run has no grace time, so unlike a scheduled one (closed as missed by the sweep past its
        job's misfire grace time) nothing else ends it if the broker lost its confirmed message (a purged or
        deleted queue, a lost node): it would stay pending for ever. If the message was not lost, only slow to
        be consumed, the extra copy is a duplicate delivery, which the claim ignores."""
        execution = ScheduledJobExecution
        return await self._forget_publications(
            session, execution.trigger == Trigger.MANUAL, execution.published_at < published_before, limit=limit
        )

    @staticmethod
    async def _forget_publications(
        session: AsyncSession, *conditions: ColumnElement[bool], limit: int | None = None
    ) -> list[str]:
        """Clear published_at of the pending runs with a confirmed publish that meet `conditions`, oldest
        confirmation first, up to `limit` (None: all); returns their ids."""
        execution = ScheduledJobExecution
        # Pending runs are few and the open runs' partial index finds them (a literal, as its predicate needs).
        chosen = (
            select(execution.execution_id)
            .where(execution.status_id == PENDING_LITERAL, execution.published_at.is_not(None), *conditions)
            .order_by(execution.published_at)
            .limit(limit)
        )
        result = await session.execute(
            update(execution)
            # Re-checked here: a run claimed while this statement waited for its row is left alone.
            .where(execution.execution_id.in_(chosen), execution.status_id == ExecutionStatus.PENDING)
            .values(published_at=None)
            .returning(execution.execution_id)
        )
        return [row[0] for row in result.all()]

    async def unpublished_runs(
        self, session: AsyncSession, *, created_before: datetime, limit: int
    ) -> list[tuple[str, int, datetime, int]]:
        """Pending runs the broker never confirmed, written before `created_before` (or manual triggers,
        which have no other publisher): (execution_id, job_id, scheduled_at, job priority), oldest first, locked
        with SKIP LOCKED so two timekeepers do not re-publish the same rows.

        Two range scans of the outbox's partial index (ordered by created_at, as the index is), not one query
        with `created_before OR manual`: the OR cannot bound the index scan, which then reads the whole outbox
        on every relay, even when nothing is due. The priority is a scalar subquery rather than a join so the
        plan stays an ordered index scan that stops after `limit` rows whatever the outbox holds."""
        execution = ScheduledJobExecution
        old = await self._outbox_rows(session, limit, execution.created_at < created_before)
        if len(old) >= limit:
            return old
        manual = await self._outbox_rows(
            session, limit - len(old), execution.created_at >= created_before, execution.trigger == Trigger.MANUAL
        )
        return old + manual

    @staticmethod
    async def _outbox_rows(
        session: AsyncSession, limit: int, *conditions: ColumnElement[bool]
    ) -> list[tuple[str, int, datetime, int]]:
        execution = ScheduledJobExecution
        priority = select(ScheduledJob.priority).where(ScheduledJob.id == execution.job_id).scalar_subquery()
        query = (
            select(execution.execution_id, execution.job_id, execution.scheduled_at, priority)
            .where(execution.status_id == PENDING_LITERAL, execution.published_at.is_(None), *conditions)
            .order_by(execution.created_at)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(of=execution, skip_locked=True)
        return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]

    # --- status and retention ----------------------------------------------------------------------

    async def count_running(self, session: AsyncSession) -> int:
        query = select(func.count()).where(ScheduledJobExecution.status_id == ExecutionStatus.RUNNING)
        return int((await session.execute(query)).scalar_one())

    async def running_executions(self, session: AsyncSession, limit: int = 100) -> list[Execution]:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.status_id == ExecutionStatus.RUNNING)
            .order_by(ScheduledJobExecution.started_at)
            .limit(limit)
        )
        return list((await session.execute(query)).scalars().all())

    async def delete_executions_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        """Delete up to batch_size finished executions created before cutoff; pending and running runs
        are never deleted. The caller commits between batches so no transaction holds locks for long."""
        execution = ScheduledJobExecution
        batch = (
            select(execution.id)
            .where(execution.created_at < cutoff, execution.status_id.not_in(_OPEN))
            .order_by(execution.id)
            .limit(batch_size)
        )
        if is_postgres(session):
            batch = batch.with_for_update(skip_locked=True)
        result = await session.execute(
            delete(execution).where(execution.id.in_(batch.scalar_subquery())).returning(execution.id)
        )
        return len(result.all())


# --- the timekeeper's statements, shared with JobRepository.record_pass -----------------------------------


async def insert_executions(session: AsyncSession, rows: Sequence[NewExecution]) -> list[str]:
    """See ExecutionRepository.create_executions."""
    if not rows:
        return []
    if not is_postgres(session):
        return _insert_executions_sqlite(await sqlite_connection(session), rows)
    values = [
        {
            "execution_id": row.execution_id,
            "job_id": row.job_id,
            "scheduled_at": row.scheduled_at,
            "status_id": int(row.status_id),
            "trigger": row.trigger,
            "coalesced_count": row.coalesced_count,
            "coalesced_from": row.coalesced_from,
            "error_message": row.error_message,
            "completed_at": row.completed_at,
        }
        for row in rows
    ]
    statement = (
        pg_insert(_EXECUTIONS)  # Core, not ORM: no per-row bookkeeping
        .on_conflict_do_nothing(index_elements=["job_id", "scheduled_at"])
        .returning(_EXECUTIONS.c.execution_id)
    )
    # executemany: SQLAlchemy packs the rows into multi-row INSERTs of a bounded size, so a pass with
    # thousands of slots stays under the drivers' bound-parameter limits (32,767 for asyncpg).
    result = await session.execute(statement, values)
    return [row[0] for row in result.all()]


# --- SQLite (embedded mode): plain statements on the transaction's sqlite3 connection (see sqlite.py). One
# writer at a time (BEGIN IMMEDIATE), so no row here can be locked by someone else.
_INSERT_EXECUTION_SQLITE = """
    INSERT INTO scheduled_job_execution (
        execution_id, job_id, scheduled_at, status_id, trigger, coalesced_count, coalesced_from, error_message,
        completed_at
    )
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (job_id, scheduled_at) DO NOTHING
"""
_SET_PUBLISHED_SQLITE = (
    f"UPDATE scheduled_job_execution SET published_at = ? WHERE execution_id = ? AND status_id = {_PENDING}"
)
# Which of a batch's execution ids are stored (a slot that already had a row kept its own id).
_STORED_IDS_SQLITE = "SELECT execution_id FROM scheduled_job_execution WHERE execution_id IN ({})"
# Ids per IN list: under SQLite's default limit of bound parameters (32,766 since 3.32; 999 before).
_SQLITE_IN_CHUNK = 500


def _insert_executions_sqlite(connection: sqlite3.Connection, rows: Sequence[NewExecution]) -> list[str]:
    """insert_executions on SQLite: one executemany; the ids actually written are looked up only when some
    slot already had a row (executemany reports how many rows it wrote, not which)."""
    cursor = connection.executemany(
        _INSERT_EXECUTION_SQLITE,
        [
            (
                row.execution_id,
                row.job_id,
                to_instant(row.scheduled_at),
                int(row.status_id),
                row.trigger,
                row.coalesced_count,
                to_instant(row.coalesced_from),
                row.error_message,
                to_instant(row.completed_at),
            )
            for row in rows
        ],
    )
    ids = [row.execution_id for row in rows]
    if cursor.rowcount == len(rows):
        return ids
    stored: set[str] = set()
    for start in range(0, len(ids), _SQLITE_IN_CHUNK):
        chunk = ids[start : start + _SQLITE_IN_CHUNK]
        found = connection.execute(_STORED_IDS_SQLITE.format(placeholders(len(chunk))), chunk)
        stored.update(row[0] for row in found)
    return [execution_id for execution_id in ids if execution_id in stored]


def _record_published_sqlite(connection: sqlite3.Connection, runs: Sequence[PublishedRun]) -> list[str]:
    """record_published on SQLite: one UPDATE per run (each a few µs in-process), so the ids marked are known."""
    marked = []
    for run in runs:
        if connection.execute(_SET_PUBLISHED_SQLITE, (to_instant(run.published_at), run.execution_id)).rowcount:
            marked.append(run.execution_id)
    return marked


async def record_published(session: AsyncSession, runs: Sequence[PublishedRun]) -> list[str]:
    """See ExecutionRepository.record_published."""
    if not runs:
        return []
    if not is_postgres(session):
        return _record_published_sqlite(await sqlite_connection(session), runs)
    result = await session.execute(_MARK_PUBLISHED_POSTGRES, published_params(runs))
    return [row[0] for row in result.all()]


def published_params(runs: Sequence[PublishedRun]) -> dict[str, list[Any]]:
    """The array parameters of MARK_PUBLISHED_SQL."""
    return {
        "published_ids": [r.execution_id for r in runs],
        "published_ats": [r.published_at for r in runs],
    }

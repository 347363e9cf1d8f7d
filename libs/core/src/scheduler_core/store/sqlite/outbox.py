"""The outbox on SQLite: runs written and confirmations recorded as plain statements on the transaction's sqlite3
connection (connection.py says why). One writer at a time (BEGIN IMMEDIATE), so no row here can be locked by
someone else."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outbox import NewExecution, PublishedRun
from scheduler_core.store.portable.outbox import PortableOutbox
from scheduler_core.store.sqlite.connection import placeholders, sqlite_connection, to_instant

_INSERT_EXECUTION: Final = """
    INSERT INTO scheduled_job_execution (
        execution_id, job_id, scheduled_at, status_id, trigger, coalesced_count, coalesced_from, error_message,
        completed_at, rerun_of
    )
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING
"""
_SET_PUBLISHED: Final = (
    "UPDATE scheduled_job_execution SET published_at = ? "
    f"WHERE execution_id = ? AND scheduled_at = ? AND status_id = {int(ExecutionStatus.PENDING)}"
)
# Which of a batch's execution ids are stored (a slot that already had a row kept its own id).
_STORED_IDS: Final = "SELECT execution_id FROM scheduled_job_execution WHERE execution_id IN ({})"
# Ids per IN list: under SQLite's default limit of bound parameters (32,766 since 3.32; 999 before).
_IN_CHUNK: Final = 500


def insert_executions(connection: sqlite3.Connection, rows: Sequence[NewExecution]) -> list[str]:
    """OutboxStore.add on the sqlite3 connection: one executemany; the ids actually written are looked up only when
    some slot already had a row (executemany reports how many rows it wrote, not which)."""
    if not rows:
        return []
    cursor = connection.executemany(
        _INSERT_EXECUTION,
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
                row.rerun_of,
            )
            for row in rows
        ],
    )
    ids = [row.execution_id for row in rows]
    if cursor.rowcount == len(rows):
        return ids
    stored: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found = connection.execute(_STORED_IDS.format(placeholders(len(chunk))), chunk)
        stored.update(row[0] for row in found)
    return [execution_id for execution_id in ids if execution_id in stored]


def record_published(connection: sqlite3.Connection, runs: Sequence[PublishedRun]) -> list[str]:
    """OutboxStore.record_published on the sqlite3 connection: one UPDATE per run (each a few µs in-process), so the
    ids marked are known."""
    marked = []
    for run in runs:
        if connection.execute(
            _SET_PUBLISHED, (to_instant(run.published_at), run.execution_id, to_instant(run.scheduled_at))
        ).rowcount:
            marked.append(run.execution_id)
    return marked


class SqliteOutbox(PortableOutbox):
    async def add(self, session: AsyncSession, rows: Sequence[NewExecution]) -> list[str]:
        if not rows:
            return []
        return insert_executions(await sqlite_connection(session), rows)

    async def record_published(self, session: AsyncSession, runs: Sequence[PublishedRun]) -> list[str]:
        if not runs:
            return []
        return record_published(await sqlite_connection(session), runs)

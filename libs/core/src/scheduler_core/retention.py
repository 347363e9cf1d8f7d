"""Retention: delete finished executions older than N days and audit rows older than M days, in batches, never an
open run; and the notification deliveries older than N days that are done (delivered or given up). Used by the
API's cleanup endpoint and by the built-in `cleanup_history` task (the seeded primary job)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import Actor, AuditAction, AuditEntry, Store

DEFAULT_RETENTION_DAYS = 30
DEFAULT_AUDIT_RETENTION_DAYS = 365  # SCHEDULER_AUDIT_RETENTION_DAYS's default
# Rows per DELETE; each batch is its own transaction so a large purge never holds locks for long.
DELETE_BATCH_SIZE = 1000


# A store's delete_before: (session, cutoff, batch size) -> rows deleted.
_Deleter = Callable[[AsyncSession, datetime, int], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Purged:
    executions: int  # finished runs deleted
    audit_rows: int  # audit rows deleted


def cleanup_entry(actor: Actor, retention_days: int, audit_retention_days: int) -> AuditEntry:
    """The audit row of a cleanup: who asked, and the retention it applied."""
    return AuditEntry(
        actor, AuditAction.CLEANUP, target=f"retentionDays={retention_days} auditRetentionDays={audit_retention_days}"
    )


async def purge_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Store,
    retention_days: int,
    *,
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS,
    recorded_as: AuditEntry | None = None,
    batch_size: int = DELETE_BATCH_SIZE,
) -> Purged:
    """Delete executions created more than retention_days ago that are finished, then audit rows that occurred more
    than audit_retention_days ago. `recorded_as` is written in the transaction of the first batch that deletes
    anything, so no deletion commits without its audit row, and a cleanup that finds nothing to delete leaves
    none."""
    if retention_days < 0 or audit_retention_days < 0:
        raise ValueError("retention days must be >= 0")
    async with sessionmaker() as session:
        now = await store.clock.now(session)
    execution_cutoff = now - timedelta(days=retention_days)
    audit_cutoff = now - timedelta(days=audit_retention_days)
    pending_entry = recorded_as

    async def batches(delete_batch: _Deleter, cutoff: datetime) -> int:
        nonlocal pending_entry
        deleted = 0
        while True:
            async with sessionmaker.begin() as session:
                batch = await delete_batch(session, cutoff, batch_size)
                if batch and pending_entry is not None:
                    await store.audit.record(session, pending_entry)
                    pending_entry = None
            deleted += batch
            if batch < batch_size:
                return deleted

    executions = await batches(store.history.delete_before, execution_cutoff)
    audit_rows = await batches(store.audit.delete_before, audit_cutoff)
    return Purged(executions, audit_rows)


async def purge_deliveries(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Store,
    retention_days: int,
    *,
    batch_size: int = DELETE_BATCH_SIZE,
) -> int:
    """Delete notification deliveries written more than retention_days ago that are delivered or failed (pending
    ones are kept, whatever their age); returns how many."""
    if retention_days < 0:
        raise ValueError("retention_days must be >= 0")
    async with sessionmaker() as session:
        cutoff = await store.clock.now(session) - timedelta(days=retention_days)
    deleted = 0
    while True:
        async with sessionmaker.begin() as session:
            batch = await store.deliveries.delete_finished_before(session, cutoff, batch_size)
        deleted += batch
        if batch < batch_size:
            return deleted

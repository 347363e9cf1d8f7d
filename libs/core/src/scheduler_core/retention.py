"""History retention: delete finished executions older than N days, in batches, never an open run; and the
notification deliveries of the same age that are done (delivered or given up). Used by the API's cleanup endpoint
and by the built-in `cleanup_history` task (the seeded primary job)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import Store

DEFAULT_RETENTION_DAYS = 30
# Rows per DELETE; each batch is its own transaction so a large purge never holds locks for long.
DELETE_BATCH_SIZE = 1000


async def purge_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Store,
    retention_days: int,
    *,
    batch_size: int = DELETE_BATCH_SIZE,
) -> int:
    """Delete executions created more than retention_days ago that are finished; returns how many."""
    if retention_days < 0:
        raise ValueError("retention_days must be >= 0")
    async with sessionmaker() as session:
        cutoff = await store.clock.now(session) - timedelta(days=retention_days)
    deleted = 0
    while True:
        async with sessionmaker.begin() as session:
            batch = await store.history.delete_before(session, cutoff, batch_size)
        deleted += batch
        if batch < batch_size:
            return deleted


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

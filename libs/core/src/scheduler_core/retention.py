"""Retention: drop or delete finished executions older than N days and audit rows older than M days, never an open
run; and the notification deliveries older than N days that are done (delivered or given up). Used by the API's
cleanup endpoint and by the built-in `cleanup_history` task (the seeded primary job). One cleanup at a time.

On PostgreSQL the executions are partitioned by week of their slot (store/partitions.py): a week whose runs have
all expired is detached and dropped whole, at a cost that does not grow with its rows; the rest (the slots before
the partitions, the default partition) is deleted in batches. On
SQLite there are no partitions, and every expired run is deleted in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import Actor, AuditAction, AuditEntry, Store
from scheduler_core.store.partitions import DAYS_AHEAD, Partition, Step

DEFAULT_RETENTION_DAYS = 30
DEFAULT_AUDIT_RETENTION_DAYS = 365  # SCHEDULER_AUDIT_RETENTION_DAYS's default
# Rows per DELETE; each batch is its own transaction so a large purge never holds locks for long.
DELETE_BATCH_SIZE = 1000
# A week's partition is counted (for deletedCount) once its week has been closed this long: the retries of its
# slots that end later are few by then. Counting reads one index of the partition, once.
COUNT_AFTER: Final = timedelta(days=1)
# A step that needs a lock the runs' path holds (making or detaching a week) waits for it briefly
# (store/postgres/partitions.py), and is tried again this many times, this many seconds apart, before it is left
# to the next cleanup.
LOCK_ATTEMPTS: Final = 5
LOCK_RETRY_S: Final = 0.5


class CleanupRunning(Exception):
    """Another cleanup holds the cleanup's lock (POST /cleanup answers 409; the scheduled task reports it)."""

    def __init__(self) -> None:
        super().__init__("another history cleanup is running; try again once it has finished")


# A store's delete_before: (session, cutoff, batch size) -> rows deleted.
_Deleter = Callable[[AsyncSession, datetime, int], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Purged:
    executions: int  # finished runs deleted (those of dropped partitions as counted when their week closed)
    audit_rows: int  # audit rows deleted
    partitions_dropped: int = 0


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
    than audit_retention_days ago; make the history's partitions of the days ahead. `recorded_as` is written in the
    transaction of the first step that deletes anything, so no deletion commits without its audit row, and a
    cleanup that finds nothing to delete leaves none. Raises CleanupRunning if another cleanup is running."""
    if retention_days < 0 or audit_retention_days < 0:
        raise ValueError("retention days must be >= 0")
    engine = sessionmaker.kw["bind"]
    # One connection for the whole cleanup, its steps one after another in short transactions: it holds the
    # cleanup's lock (session-scoped) meanwhile, and the cleanup takes no more than one connection of the pool.
    async with engine.connect() as connection:
        on_it = async_sessionmaker(bind=connection, expire_on_commit=False)
        async with on_it() as guard:
            held = await store.partitions.try_exclusive(guard)
            await guard.commit()
        if not held:
            raise CleanupRunning
        try:
            return await _purge(on_it, store, retention_days, audit_retention_days, recorded_as, batch_size)
        finally:
            try:
                async with on_it.begin() as guard:
                    await store.partitions.release_exclusive(guard)
            finally:
                # Closed, not returned to the pool: a lock left on it (a release cut short) ends with it.
                await connection.invalidate()


async def _purge(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: Store,
    retention_days: int,
    audit_retention_days: int,
    recorded_as: AuditEntry | None,
    batch_size: int,
) -> Purged:
    async with sessionmaker() as session:
        now = await store.clock.now(session)
    for ahead in range(DAYS_AHEAD + 1):
        await _attempts(sessionmaker, partial(_make_week, store, now.date() + timedelta(days=ahead)))
    execution_cutoff = now - timedelta(days=retention_days)
    audit_cutoff = now - timedelta(days=audit_retention_days)
    pending_entry = recorded_as

    async def record_once(session: AsyncSession) -> None:
        nonlocal pending_entry
        if pending_entry is not None:
            await store.audit.record(session, pending_entry)
            pending_entry = None

    async def batches(delete_batch: _Deleter, cutoff: datetime) -> int:
        deleted = 0
        while True:
            async with sessionmaker.begin() as session:
                batch = await delete_batch(session, cutoff, batch_size)
                if batch:
                    await record_once(session)
            deleted += batch
            if batch < batch_size:
                return deleted

    dropped_runs, dropped = 0, 0
    async with sessionmaker() as session:
        partitions = await store.partitions.partitions(session)
    for partition in partitions:
        runs = partition.runs
        if runs is None and partition.starts is not None and partition.ends <= now - COUNT_AFTER:
            async with sessionmaker.begin() as session:
                runs = await store.partitions.count(session, partition)
        async with sessionmaker() as session:
            if not await store.partitions.expired(session, partition, execution_cutoff):
                continue
        if runs is None:  # a day closed less than COUNT_AFTER ago: only with a retention under a day
            async with sessionmaker.begin() as session:
                runs = await store.partitions.count(session, partition)

        async def detach(session: AsyncSession, partition: Partition = partition, runs: int = runs) -> Step:
            step = await store.partitions.detach(session, partition)
            if step is Step.DONE and runs:
                await record_once(session)
            return step

        if await _attempts(sessionmaker, detach) is Step.DONE:  # else: left to the next cleanup
            dropped_runs, dropped = dropped_runs + runs, dropped + 1
    async with sessionmaker.begin() as session:
        await store.partitions.drop_detached(session)  # and any a cleanup detached before it was cut short

    executions = dropped_runs + await batches(store.history.delete_before, execution_cutoff)
    audit_rows = await batches(store.audit.delete_before, audit_cutoff)
    return Purged(executions, audit_rows, dropped)


async def _make_week(store: Store, day: date, session: AsyncSession) -> Step:
    return await store.partitions.make_week(session, day)


async def _attempts(
    sessionmaker: async_sessionmaker[AsyncSession], step: Callable[[AsyncSession], Awaitable[Step]]
) -> Step:
    """The step in a transaction of its own (it holds its locks until the commit), tried again while its lock was
    not granted in time, LOCK_ATTEMPTS times at most."""
    done = Step.BUSY
    for attempt in range(LOCK_ATTEMPTS):
        if attempt:
            await asyncio.sleep(LOCK_RETRY_S)
        async with sessionmaker.begin() as session:
            done = await step(session)
        if done is not Step.BUSY:
            return done
    return done


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

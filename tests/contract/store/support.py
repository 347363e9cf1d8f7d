"""Helpers of the store contract suite, shared with the backend-specific store tests in tests/integration/store:
the database's instant, claims by a test executor, rows read straight from the tables, and the statements an
engine sends. Each finds the store of its session (store_of), so it serves either backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.store import ClaimResult, NewExecution, RunSlot
from scheduler_core.store.models import (
    ExecutionStatus,
    InstanceStatus,
    ScheduledJobExecution,
    ScheduledJobLock,
)
from tests.support.factories import interval_job, new_id
from tests.support.stores import store_of

Maker = async_sessionmaker[AsyncSession]

HOST = "host-a"  # the host name test executors claim from


async def db_now(sessionmaker: Maker) -> datetime:
    """The database clock's instant, read in a transaction of its own."""
    async with sessionmaker() as session:
        return await store_of(session).clock.now(session)


# The slot given with an id no run has (any instant: nothing is found either way).
UNKNOWN_SLOT = datetime(2000, 1, 1, tzinfo=UTC)


async def slots(sessionmaker: Maker, execution_ids: Sequence[str]) -> dict[str, datetime]:
    """Each known run's slot, read straight from the table (what its message carries)."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(ScheduledJobExecution.execution_id, ScheduledJobExecution.scheduled_at).where(
                ScheduledJobExecution.execution_id.in_(list(execution_ids))
            )
        )
        return {row.execution_id: row.scheduled_at for row in rows.all()}


async def run_slots(sessionmaker: Maker, execution_ids: Sequence[str]) -> list[RunSlot]:
    """The runs as their messages name them, with their own slots (UNKNOWN_SLOT for an id no run has)."""
    known = await slots(sessionmaker, execution_ids)
    return [RunSlot(eid, known.get(eid, UNKNOWN_SLOT)) for eid in execution_ids]


def named(rows: Sequence[NewExecution]) -> list[RunSlot]:
    """Runs written with these rows, as their messages name them."""
    return [RunSlot(row.execution_id, row.scheduled_at) for row in rows]


async def claim(
    sessionmaker: Maker, execution_ids: Sequence[str], instance: str = "exec-1", ttl: float = 60.0
) -> list[ClaimResult]:
    """Claim runs for the executor `instance`, in a transaction of their own, each named with its own slot."""
    return await claim_runs(sessionmaker, await run_slots(sessionmaker, execution_ids), instance, ttl)


async def claim_runs(
    sessionmaker: Maker, runs: Sequence[RunSlot], instance: str = "exec-1", ttl: float = 60.0
) -> list[ClaimResult]:
    """Claim runs named with the slots given, for the executor `instance`, in a transaction of their own."""
    async with sessionmaker.begin() as session:
        return await store_of(session).claims.claim(session, runs, instance_id=instance, host_name=HOST, lock_ttl=ttl)


async def pending_run(sessionmaker: Maker, *, lateness_s: float = 0, **job_fields: Any) -> tuple[int, str]:
    """A new job (with these fields) and one pending scheduled run of it, `lateness_s` seconds past its slot;
    returns (job id, execution id)."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, **job_fields)
        execution_id = new_id()
        slot = now - timedelta(seconds=lateness_s)
        await store_of(session).outbox.add(session, [NewExecution(execution_id, job.id, slot)])
    return job.id, execution_id


async def later_run(sessionmaker: Maker, job_id: int) -> str:
    """Another pending scheduled run of an existing job, at the database's now; returns its execution id."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        execution_id = new_id()
        await store_of(session).outbox.add(session, [NewExecution(execution_id, job_id, now)])
    return execution_id


async def register(sessionmaker: Maker, status: str = InstanceStatus.RUNNING) -> str:
    """A registered executor instance with this status; returns its id."""
    async with sessionmaker.begin() as session:
        instances = store_of(session).instances
        instance = await instances.register(
            session, {"id": new_id(), "instance_name": "e", "host_name": "h", "process_id": 1, "mode": "standalone"}
        )
        await instances.set_status(session, instance.id, status)
    return instance.id


async def hold_locks(session: AsyncSession, job_id: int, owner: str, ttl: float, count: int = 1) -> None:
    """`count` live locks on the job, as `owner` would hold them for runs not in this test's batch: places of
    its max_instances taken by another executor."""
    now = await store_of(session).clock.now(session)
    for _ in range(count):
        session.add(
            ScheduledJobLock(
                job_id=job_id,
                execution_id=new_id(),
                locked_by=owner,
                locked_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
    await session.flush()


async def execution(sessionmaker: Maker, execution_id: str) -> ScheduledJobExecution:
    """The run's row as the table holds it."""
    async with sessionmaker() as session:
        query = select(ScheduledJobExecution).where(ScheduledJobExecution.execution_id == execution_id)
        return (await session.execute(query)).scalar_one()


async def executions(sessionmaker: Maker, execution_ids: Sequence[str]) -> dict[str, ScheduledJobExecution]:
    """The runs' rows as the table holds them, by execution id."""
    async with sessionmaker() as session:
        query = select(ScheduledJobExecution).where(ScheduledJobExecution.execution_id.in_(execution_ids))
        return {row.execution_id: row for row in (await session.execute(query)).scalars()}


async def locks(sessionmaker: Maker) -> dict[str, ScheduledJobLock]:
    """Every row of the lock table, by execution id."""
    async with sessionmaker() as session:
        return {lock.execution_id: lock for lock in (await session.execute(select(ScheduledJobLock))).scalars()}


@contextmanager
def captured(engine: AsyncEngine, marker: str = "") -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) the engine sends inside the block, those containing `marker`
    only if one is given."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if marker in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


OUTBOX_BASE = datetime(2030, 1, 1, tzinfo=UTC)  # the instant outbox_with_history's runs are written around


async def outbox_with_history(sessionmaker: Maker) -> None:
    """2,000 finished runs and 50 unconfirmed ones, with statistics, so that the relay's plan is a real choice."""
    async with sessionmaker.begin() as session:
        store = store_of(session)
        job = await interval_job(session, next_run_at=None)
        done = [
            NewExecution(
                new_id(),
                job.id,
                OUTBOX_BASE + timedelta(seconds=i),
                status_id=ExecutionStatus.SUCCESS,
                completed_at=OUTBOX_BASE,
            )
            for i in range(2000)
        ]
        pending = [NewExecution(new_id(), job.id, OUTBOX_BASE - timedelta(seconds=i + 1)) for i in range(50)]
        await store.outbox.add(session, done + pending)
        await store.outbox.mark_published(session, named(done), OUTBOX_BASE)
    async with sessionmaker.begin() as session:
        await session.execute(text("ANALYZE"))

"""Retention by partitions on PostgreSQL (migration 0012, store/postgres/partitions.py, retention.py): an expired week
is dropped whole and its disk returned, a week with an open run waits for it, the default partition and the slots
from before the migration are deleted in batches, the days ahead are made, one cleanup runs at a time; and the
migration of a table that already holds runs; and the pipeline running every slot once while weeks are dropped.
Each test but the last has a database of its own: it makes and drops tables."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.retention import CleanupRunning, purge_history
from scheduler_core.store import Actor, AuditAction, AuditEntry, NewExecution, Store
from scheduler_core.store.engine import create_engine
from scheduler_core.store.migration import upgrade
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, SchedulerAuditLog
from scheduler_core.store.partitions import DAYS_AHEAD, Step
from scheduler_core.store.postgres.partitions import DEFAULT_PARTITION, week_name, week_of
from tests.integration.test_pipeline import create_job, wait_until_settled
from tests.support.cluster import runs_ended
from tests.support.databases import fresh_postgres_database, postgres_server
from tests.support.factories import interval_job, new_id
from tests.support.pipeline import pipeline
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_for
from tests.support.tasks import read_log

Maker = async_sessionmaker[AsyncSession]


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: Maker
    store: Store

    async def scalar(self, sql: str) -> object:
        async with self.engine.connect() as connection:
            return (await connection.exec_driver_sql(sql)).scalar()

    async def files(self, table: str) -> list[str]:
        """The data files of a table and of its indexes."""
        async with self.engine.connect() as connection:
            query = (
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = CAST(:table AS regclass) "
                "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = CAST(:table AS regclass))"
            )
            return list((await connection.execute(text(query), {"table": table})).scalars())

    async def today(self) -> date:
        async with self.sessionmaker() as session:
            return (await self.store.clock.now(session)).astimezone(UTC).date()

    async def runs(self, job_id: int, slots: list[tuple[datetime, ExecutionStatus]]) -> list[str]:
        """Write runs of these slots and statuses, each created at its slot (as the timekeeper does)."""
        ids = [new_id() for _ in slots]
        async with self.sessionmaker.begin() as session:
            rows = [
                NewExecution(i, job_id, slot, status_id=status) for i, (slot, status) in zip(ids, slots, strict=True)
            ]
            await self.store.outbox.add(session, rows)
            execution = ScheduledJobExecution
            await session.execute(
                update(execution).where(execution.execution_id.in_(ids)).values(created_at=execution.scheduled_at)
            )
        return ids

    async def left(self) -> set[str]:
        async with self.sessionmaker() as session:
            return set((await session.execute(select(ScheduledJobExecution.execution_id))).scalars())


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    async with postgres_server() as server, fresh_postgres_database(server) as url:
        engine = create_engine(url, pool_size=4)
        try:
            yield Database(engine, async_sessionmaker(engine, expire_on_commit=False), store_for(engine))
        finally:
            await engine.dispose()


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


async def test_an_expired_week_is_dropped_whole_and_its_disk_returned(db: Database) -> None:
    today = await db.today()
    old = [week_of(today) - timedelta(days=n) for n in (56, 49)]  # two expired weeks' Mondays, each a partition
    async with db.sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        assert [await db.store.partitions.make_week(session, day) for day in old] == [Step.DONE, Step.DONE]
    done = [ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.MISSED]
    dropped = await db.runs(job.id, [(at(old[0], h), done[h % 3]) for h in range(20)])
    # The second week holds a run still waiting (a retry): the week waits for it, and nothing of it is deleted.
    waiting_day = await db.runs(job.id, [(at(old[1], h), ExecutionStatus.SUCCESS) for h in range(5)])
    waiting_day += await db.runs(job.id, [(at(old[1], 20), ExecutionStatus.WAITING)])
    recent = await db.runs(job.id, [(at(today - timedelta(days=2)), ExecutionStatus.SUCCESS)])
    # The files of the week's table and of its indexes (paths under the data directory).
    files = await db.files(week_name(old[0]))
    assert len(files) > 10
    entry = AuditEntry(Actor(None, "scheduler"), AuditAction.CLEANUP, target="retentionDays=30")

    purged = await purge_history(db.sessionmaker, db.store, 30, recorded_as=entry)

    assert (purged.executions, purged.partitions_dropped) == (len(dropped), 1)
    assert await db.left() == {*waiting_day, *recent}
    assert await db.scalar(f"SELECT to_regclass('{week_name(old[0])}')") is None  # the table is gone, files too
    assert [path for path in files if await db.scalar(f"SELECT pg_stat_file('{path}', true) IS NOT NULL")] == []
    assert await db.scalar(f"SELECT to_regclass('{week_name(old[1])}')") is not None
    async with db.sessionmaker() as session:
        audits = (await session.execute(select(func.count()).select_from(SchedulerAuditLog))).scalar_one()
        partitions = {p.name: p.runs for p in await db.store.partitions.partitions(session)}
    assert audits == 1  # written with the drop, once
    assert partitions[week_name(old[1])] == len(waiting_day)  # counted once its week had closed
    # The weeks of the days ahead exist, from today's.
    assert {week_name(today + timedelta(days=n)) for n in range(DAYS_AHEAD + 1)} <= set(partitions)

    # Once the waiting run has finished, its week goes at the next cleanup, counted as it was.
    async with db.sessionmaker.begin() as session:
        execution = ScheduledJobExecution
        await session.execute(
            update(execution).where(execution.status_id == ExecutionStatus.WAITING).values(status_id=4)
        )
    purged = await purge_history(db.sessionmaker, db.store, 30)
    assert (purged.executions, purged.partitions_dropped) == (len(waiting_day), 1)
    assert await db.left() == set(recent)


async def test_runs_outside_every_day_go_to_the_default_partition_and_are_deleted_in_batches(db: Database) -> None:
    today = await db.today()
    async with db.sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
    # A backfill of a week that has no partition (before the first one), and a slot beyond the weeks made ahead.
    backfilled = await db.runs(job.id, [(at(today - timedelta(days=50), h), ExecutionStatus.SUCCESS) for h in range(7)])
    far_week = week_of(today) + timedelta(days=21)
    far = await db.runs(job.id, [(at(far_week), ExecutionStatus.PENDING)])
    assert await db.scalar(f"SELECT count(*) FROM {DEFAULT_PARTITION}") == 8

    purged = await purge_history(db.sessionmaker, db.store, 30, batch_size=3)

    assert (purged.executions, purged.partitions_dropped) == (len(backfilled), 0)
    assert await db.left() == set(far)
    # The far week has runs in the default partition: its partition is not made (it would have to move them).
    made = []
    for weeks in range(4):
        async with db.sessionmaker.begin() as session:
            step = await db.store.partitions.make_week(session, week_of(today) + timedelta(days=7 * weeks))
        made.append(step)
    assert made == [Step.SKIPPED, Step.SKIPPED, Step.DONE, Step.SKIPPED]  # made already; made; the far one


async def test_one_cleanup_at_a_time(db: Database) -> None:
    async with db.engine.connect() as connection:
        holder = AsyncSession(bind=connection)
        assert await db.store.partitions.try_exclusive(holder)
        await holder.commit()  # held across transactions: a cleanup's steps are short transactions
        with pytest.raises(CleanupRunning, match="another history cleanup is running"):
            await purge_history(db.sessionmaker, db.store, 30)
        await db.store.partitions.release_exclusive(holder)
        await holder.commit()
    purged = await purge_history(db.sessionmaker, db.store, 30)
    assert purged.executions == 0


async def test_a_detach_waits_briefly_for_its_lock_and_leaves_the_week_for_the_next_cleanup(db: Database) -> None:
    today = await db.today()
    old = week_of(today) - timedelta(days=49)
    async with db.sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        assert await db.store.partitions.make_week(session, old) is Step.DONE
    runs = await db.runs(job.id, [(at(old), ExecutionStatus.SUCCESS)])
    # A long reader of the history (a transaction that read the executions) holds a lock the detach needs.
    async with db.engine.connect() as reader:
        # Longer than the product's own sessions may sit idle in a transaction: this one stands for a long read.
        await reader.execute(text("SET idle_in_transaction_session_timeout = 0"))
        await reader.commit()
        await reader.execute(text("SELECT count(*) FROM scheduled_job_execution"))
        purged = await asyncio.wait_for(purge_history(db.sessionmaker, db.store, 30), timeout=30)
        assert (purged.executions, purged.partitions_dropped) == (0, 0)
        await reader.rollback()
    assert await db.left() == set(runs)
    purged = await purge_history(db.sessionmaker, db.store, 30)
    assert (purged.executions, purged.partitions_dropped) == (1, 1)


async def test_the_migration_keeps_a_populated_table_as_the_partition_of_the_slots_before_it() -> None:
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        engine = create_engine(url, pool_size=2)
        try:
            await upgrade(engine, "0010")
            async with engine.begin() as connection:
                for statement in (
                    "INSERT INTO task_function (key, name_en, name_ar) VALUES ('t', 't', 't')",
                    "INSERT INTO scheduled_job (task_function_id, job_type_id, interval_seconds) VALUES (1, 1, 60)",
                    "INSERT INTO scheduled_job_execution (job_id, execution_id, scheduled_at, status_id, created_at) "
                    "SELECT 1, gen_random_uuid()::text, now() - g * interval '1 hour', 3, "
                    "now() - g * interval '1 hour' "
                    "FROM generate_series(1, 2000) AS g",
                ):
                    await connection.exec_driver_sql(statement)
            await upgrade(engine)
            db = Database(engine, async_sessionmaker(engine, expire_on_commit=False), store_for(engine))
            today = await db.today()
            next_week = week_of(today) + timedelta(days=7)
            legacy = f"scheduled_job_execution_legacy_{next_week:%Y%m%d}"
            assert await db.scalar(f"SELECT count(*) FROM {legacy}") == 2000
            assert await db.scalar("SELECT count(*) FROM scheduled_job_execution") == 2000
            # New runs continue the ids, and next week's slots go to next week's partition.
            new = await db.runs(1, [(at(next_week), ExecutionStatus.SUCCESS)])
            assert await db.scalar(f"SELECT execution_id FROM {week_name(next_week)}") == new[0]
            assert await db.scalar("SELECT max(id) FROM scheduled_job_execution") == 2001
            # Until it has expired whole, the old table's expired runs go in batches: 2,000 hourly slots back
            # from now, those of the days before the cutoff's.
            purged = await purge_history(db.sessionmaker, db.store, 30)
            cutoff_day = datetime.combine((datetime.now(UTC) - timedelta(days=30)).date(), time(), UTC)
            expected = int(
                str(
                    await db.scalar(
                        f"SELECT count(*) FILTER (WHERE scheduled_at >= '{cutoff_day.isoformat()}') FROM {legacy}"
                    )
                )
            )
            assert purged.partitions_dropped == 0
            assert await db.scalar(f"SELECT count(*) FROM {legacy}") == expected
            assert purged.executions == 2000 - expected
        finally:
            await engine.dispose()


async def test_the_pipeline_runs_every_slot_once_while_the_cleanup_drops_weeks(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    db = Database(pg_engine, async_sessionmaker(pg_engine, expire_on_commit=False), store_for(pg_engine))
    today = await db.today()
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        await p.start_timekeeper()
        job_id = await create_job(pg_engine, parameters={"log": str(log)})
        async with db.sessionmaker.begin() as session:
            old = await interval_job(session, next_run_at=None)
        p.wake()
        dropped = 0
        for n, days_ago in enumerate((63, 56, 49)):
            day = week_of(today) - timedelta(days=days_ago)
            for _ in range(20):  # the pipeline's transactions hold locks that making a week waits for briefly
                async with db.sessionmaker.begin() as session:
                    if await db.store.partitions.make_week(session, day) is Step.DONE:
                        break
            await db.runs(old.id, [(at(day, 0) + timedelta(seconds=s), ExecutionStatus.SUCCESS) for s in range(500)])
            await runs_ended(pg_engine, job_id, 3 * n + 2)  # the cleanup runs between the job's slots
            dropped += (await purge_history(db.sessionmaker, db.store, 30)).partitions_dropped
        await runs_ended(pg_engine, job_id, 10)
        for timekeeper in p.timekeepers:
            await timekeeper.stop()
        rows = [r for r in await wait_until_settled(pg_engine) if r.job_id == job_id]

    assert dropped == 3
    slots = [r.scheduled_at for r in rows]
    # Zero missing: consecutive 1-s slots from the first to the last. Zero duplicates: one row per slot.
    assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))]
    assert [r.status_id for r in rows] == [ExecutionStatus.SUCCESS] * len(rows)
    started = Counter(line[0] for line in read_log(log))
    assert set(started) == {r.execution_id for r in rows}
    assert max(started.values()) == 1, "a task started twice"

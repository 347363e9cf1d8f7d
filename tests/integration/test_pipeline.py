"""The run pipeline end to end on real PostgreSQL and RabbitMQ: timekeepers -> queue -> executors.

Components run in this process, each with its own engine and broker connection (as separate processes
would); the kill and outage scenarios with real processes are in tests/faults/."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.broker import RunMessage
from scheduler_core.store import NewExecution
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, JobType, ScheduledJobExecution, Trigger
from tests.support.cluster import eventually, runs_ended
from tests.support.pipeline import FAST_EXECUTOR, FAST_TIMEKEEPER, pipeline
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_of
from tests.support.tasks import read_log


async def create_job(engine: AsyncEngine, *, first_in: float = 1.0, **fields: Any) -> int:
    """A job on the `record` task whose first slot is `first_in` seconds from the database's now."""
    maker = create_sessionmaker(engine)
    async with maker.begin() as session:
        task = await store_of(session).lookups.task_function_by_key(session, "record")
        assert task is not None, "an executor registers the test tasks first"
        now = await store_of(session).clock.now(session)
        data = {
            "task_function_id": task.id,
            "job_type_id": JobType.INTERVAL,
            "interval_seconds": 1,
            "next_run_at": now + timedelta(seconds=first_in),
            **fields,
        }
        job = await store_of(session).jobs.create(session, data)
        return job.id


async def executions(engine: AsyncEngine, job_id: int | None = None) -> list[ScheduledJobExecution]:
    maker = create_sessionmaker(engine)
    async with maker() as session:
        query = select(ScheduledJobExecution).order_by(ScheduledJobExecution.scheduled_at)
        if job_id is not None:
            query = query.where(ScheduledJobExecution.job_id == job_id)
        return list((await session.execute(query)).scalars().all())


async def wait_until_settled(engine: AsyncEngine, timeout: float = 20.0) -> list[ScheduledJobExecution]:
    """Poll until no execution is pending or running; returns them all."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await executions(engine)
        open_runs = [r for r in rows if r.status_id in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)]
        if not open_runs:
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"{len(open_runs)} runs still open: {[(r.scheduled_at, r.status_id) for r in open_runs]}"
            )
        await asyncio.sleep(0.2)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


async def test_every_slot_runs_exactly_once_with_two_timekeepers_and_three_executors(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        for _ in range(3):
            await p.start_executor()
        for _ in range(2):
            await p.start_timekeeper()
        job_id = await create_job(pg_engine, parameters={"log": str(log)})
        p.wake()
        await runs_ended(pg_engine, job_id, 10)  # ten 1-s slots
        for timekeeper in p.timekeepers:
            await timekeeper.stop()
        rows = await wait_until_settled(pg_engine)

    slots = [r.scheduled_at for r in rows if r.job_id == job_id]
    assert len(slots) >= 9, slots
    # Zero missing: consecutive 1-s slots from the first to the last. Zero duplicates: one row per slot.
    assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))]
    assert [r.status_id for r in rows] == [ExecutionStatus.SUCCESS] * len(rows)
    started = Counter(line[0] for line in read_log(log))
    assert set(started) == {r.execution_id for r in rows}
    assert max(started.values()) == 1, "a task started twice"
    # Both timekeepers and several executors took part (nothing was serialised onto one component).
    assert len({r.executor_id for r in rows}) >= 2


async def test_a_message_delivered_three_times_starts_the_task_once(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    factory = rabbit.broker_factory()
    async with pipeline(postgres_url, factory) as p:
        executors = [await p.start_executor(), await p.start_executor()]
        job_id = await create_job(pg_engine, first_in=3600, parameters={"log": str(log)})
        execution_id = str(uuid.uuid4())
        maker = create_sessionmaker(pg_engine)
        async with maker.begin() as session:
            now = await store_of(session).clock.now(session)
            await store_of(session).outbox.add(
                session, [NewExecution(execution_id, job_id, now, trigger=Trigger.MANUAL)]
            )
        message = RunMessage(execution_id, job_id, now, priority=0)
        async with factory() as publisher:
            await publisher.publish([message, message, message])
        rows = await wait_until_settled(pg_engine)

        async def both_duplicates_consumed() -> bool | None:
            return True if sum(e.metrics.duplicates._value.get() for e in executors) >= 2 else None

        await eventually(both_duplicates_consumed, 20, "the two duplicate deliveries to be consumed")

    assert [(r.execution_id, r.status_id) for r in rows] == [(execution_id, ExecutionStatus.SUCCESS)]
    assert [line[0] for line in read_log(log)] == [execution_id]
    assert sum(e.metrics.duplicates._value.get() for e in executors) == 2


async def test_max_instances_two_never_runs_three_at_once(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log, ends = tmp_path / "starts.log", tmp_path / "ends.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        await p.start_executor()
        await p.start_timekeeper()
        # Each run takes 2.5 s, a new slot comes every second: a third concurrent run is always due.
        job_id = await create_job(
            pg_engine, max_instances=2, parameters={"log": str(log), "seconds": 2.5, "end_log": str(ends)}
        )
        p.wake()
        # Enough runs and skips for the assertions below (8 s of slots, as this once slept, gave about 4 of each).
        await runs_ended(pg_engine, job_id, 3, status=ExecutionStatus.SUCCESS)
        await runs_ended(pg_engine, job_id, 2, status=ExecutionStatus.SKIPPED)
        await p.timekeepers[0].stop()
        rows = await wait_until_settled(pg_engine)

    intervals = [(float(line[3]), float(line[5])) for line in read_log(ends)]
    assert max_overlap(intervals) == 2
    statuses = Counter(ExecutionStatus(r.status_id).name for r in rows if r.job_id == job_id)
    assert statuses["SUCCESS"] >= 2
    assert statuses["SKIPPED"] >= 2
    skipped = [r for r in rows if r.status_id == ExecutionStatus.SKIPPED]
    assert all(r.error_message and "max_instances=2" in r.error_message for r in skipped)
    assert set(statuses) <= {"SUCCESS", "SKIPPED"}


async def test_higher_priority_jobs_start_first_from_a_backlog(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        # Register the test tasks, then take the executor away so that a backlog builds up.
        registrar = await p.start_executor()
        await registrar.stop()
        low = [
            await create_job(pg_engine, first_in=0, interval_seconds=3600, priority=1, parameters={"log": str(log)})
            for _ in range(10)
        ]
        high = [
            await create_job(pg_engine, first_in=0, interval_seconds=3600, priority=9, parameters={"log": str(log)})
            for _ in range(10)
        ]
        timekeeper = await p.start_timekeeper()
        deadline = asyncio.get_running_loop().time() + 10
        while sum(1 for r in await executions(pg_engine) if r.published_at is not None) < 20:
            assert asyncio.get_running_loop().time() < deadline, "runs were not published"
            await asyncio.sleep(0.1)
        await timekeeper.stop()
        await p.start_executor(replace(FAST_EXECUTOR, concurrency=1, task_timeout=10, shutdown_grace=1))
        await wait_until_settled(pg_engine)

    order = [int(line[1]) for line in read_log(log)]
    assert sorted(order) == sorted(low + high)
    assert set(order[:10]) == set(high), f"start order by job: {order}"


async def test_embedded_pipeline_on_sqlite_runs_every_slot(
    sqlite_file_url: str, engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    """The same pipeline in one process over SQLite and the in-memory broker (embedded mode's shape)."""
    from scheduler_core.broker import InMemoryBroker
    from tests.support.databases import empty_tables

    engine = engines["sqlite"]
    await empty_tables(engine)
    shared = InMemoryBroker()
    log = tmp_path / "starts.log"

    class Shared:
        """The one in-process broker, entered by every component."""

        async def __aenter__(self) -> InMemoryBroker:
            return shared

        async def __aexit__(self, *exc: object) -> None:
            return None

    async with shared, pipeline(sqlite_file_url, lambda: Shared()) as p:  # type: ignore[arg-type,return-value]
        await p.start_executor(FAST_EXECUTOR)
        await p.start_timekeeper()
        job_id = await create_job(engine, parameters={"log": str(log)})
        p.wake()
        await runs_ended(engine, job_id, 5)
        await p.timekeepers[0].stop()
        rows = await wait_until_settled(engine)

    slots = [r.scheduled_at for r in rows if r.job_id == job_id]
    assert len(slots) >= 4
    assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))]
    assert all(r.status_id == ExecutionStatus.SUCCESS for r in rows)
    assert Counter(line[0] for line in read_log(log)) == Counter({r.execution_id: 1 for r in rows})
    lateness = [(r.started_at - r.scheduled_at).total_seconds() for r in rows if isinstance(r.started_at, datetime)]
    assert max(lateness) < 1.0, lateness  # a wake-up-driven timekeeper, not a 1-s poll


async def test_runs_packed_into_messages_each_start_once_within_each_executors_concurrency(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    """30 jobs due at the same instants: each pass's runs travel 16 to a message, and an executor with 3 task
    slots takes a message's runs as slots free up (claiming them in chunks, acking once all are claimed)."""
    log, ends = tmp_path / "starts.log", tmp_path / "ends.log"
    narrow = replace(FAST_EXECUTOR, concurrency=3)
    async with pipeline(postgres_url, rabbit.broker_factory(runs_per_message=16)) as p:
        executors = [await p.start_executor(narrow), await p.start_executor(narrow)]
        # Each run sleeps 50 ms: 30 runs a second on 6 slots keeps every slot busy part of the time.
        parameters = {"log": str(log), "seconds": 0.05, "end_log": str(ends)}
        jobs = [await create_job(pg_engine, first_in=1.0, parameters=parameters) for _ in range(30)]
        await p.start_timekeeper()
        p.wake()
        for job_id in jobs:
            await runs_ended(pg_engine, job_id, 2)  # two slots of each job
        await p.timekeepers[0].stop()
        rows = await wait_until_settled(pg_engine)

    assert {r.job_id for r in rows} == set(jobs)
    assert len(rows) >= 60, len(rows)  # at least 2 slots of each of the 30 jobs
    assert all(r.status_id == ExecutionStatus.SUCCESS for r in rows), Counter(r.status_id for r in rows)
    for job_id in jobs:
        slots = [r.scheduled_at for r in rows if r.job_id == job_id]
        assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))], (job_id, slots)
    started = Counter(line[0] for line in read_log(log))
    assert started == Counter({r.execution_id: 1 for r in rows}), "a run was lost or started twice"
    owner = {r.execution_id: r.executor_id for r in rows}
    for executor in executors:
        own = [(float(line[3]), float(line[5])) for line in read_log(ends) if owner[line[0]] == executor.instance.id]
        assert own, "both executors took part"
        assert max_overlap(own) <= 3, "an executor ran more tasks at once than its concurrency"
    assert sum(e.metrics.consumed._value.get() for e in executors) == len(rows)


async def test_runs_delivered_ahead_of_their_slot_start_at_it_and_wait_for_a_busy_job_rather_than_skip(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    """A 1.5-s look-ahead on a 2-s job whose runs take 1 s (max_instances 1): each run is written, published
    and delivered while the one before it still runs. It must neither start before its slot nor be skipped
    for the run still going: it is claimed again at its slot, when that one has finished."""
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        await p.start_timekeeper(replace(FAST_TIMEKEEPER, lookahead=1.5))
        job_id = await create_job(
            pg_engine, first_in=2.0, interval_seconds=2, max_instances=1, parameters={"log": str(log), "seconds": 1.0}
        )
        p.wake()
        await runs_ended(pg_engine, job_id, 3)  # slots at 2, 4 and 6 s
        await p.timekeepers[0].stop()
        rows = [r for r in await wait_until_settled(pg_engine) if r.job_id == job_id]

    assert len(rows) >= 3
    assert [ExecutionStatus(r.status_id).name for r in rows] == ["SUCCESS"] * len(rows)
    for row in rows:
        assert row.created_at < row.scheduled_at - timedelta(seconds=0.5), "not written ahead of its slot"
        assert row.started_at is not None
        assert row.started_at >= row.scheduled_at
    starts = {line[0]: float(line[3]) for line in read_log(log)}
    for row in rows:
        slot = row.scheduled_at.timestamp()
        # The task's own clock reading (this host's, as is the database's here): at its slot, not before.
        assert slot <= starts[row.execution_id] < slot + 1.0

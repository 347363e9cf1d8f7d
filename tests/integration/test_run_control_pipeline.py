"""Run control through the real pipeline (issue 18), on PostgreSQL and RabbitMQ: retries with their backoff read
from the database, each overlap policy under a burst of due slots, the pause after failed slots in a row, cancel
of a running async and sync task, and a re-run. Times asserted are the product's records (started_at is the
task's real start, completed_at its recorded end)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import Cancellation, NewExecution
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, JobType, ScheduledJob, ScheduledJobExecution, Trigger
from tests.integration.test_pipeline import executions, wait_until_settled
from tests.support.cluster import runs_ended
from tests.support.pipeline import HEARTBEAT_S, Pipeline, pipeline
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_of
from tests.support.tasks import read_log


async def _job(engine: AsyncEngine, task: str, *, first_in: float = 0.5, **fields: Any) -> int:
    """A job on `task` whose first slot is `first_in` seconds from the database's now (negative: in the past)."""
    maker = create_sessionmaker(engine)
    async with maker.begin() as session:
        store = store_of(session)
        function = await store.lookups.task_function_by_key(session, task)
        assert function is not None, "an executor registers the test tasks first"
        now = await store.clock.now(session)
        data = {
            "task_function_id": function.id,
            "job_type_id": JobType.INTERVAL,
            "interval_seconds": 3600,
            "next_run_at": now + timedelta(seconds=first_in),
            **fields,
        }
        return (await store.jobs.create(session, data)).id


async def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _started(p: Pipeline) -> None:
    await p.start_executor()
    await p.start_timekeeper()
    p.wake()


async def test_a_failing_slot_is_retried_with_backoff_until_it_succeeds(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        job_id = await _job(
            pg_engine,
            "flaky",
            parameters={"log": str(log), "fail_attempts": 2},
            max_retries=3,
            retry_delay_seconds=1,
            retry_backoff_factor=2.0,
        )
        await p.start_timekeeper()
        p.wake()

        async def three_attempts() -> list[ScheduledJobExecution]:
            rows = await executions(pg_engine, job_id)
            return rows if len(rows) == 3 and all(ExecutionStatus(r.status_id).is_terminal for r in rows) else []

        rows = sorted(await _until(three_attempts, 20, "three attempts"), key=lambda r: r.attempt)

    assert [ExecutionStatus(r.status_id).name for r in rows] == ["FAILED", "FAILED", "SUCCESS"]
    assert [r.attempt for r in rows] == [1, 2, 3]
    assert len({r.scheduled_at for r in rows}) == 1  # one slot
    assert [r.retried_by for r in rows] == [rows[1].execution_id, rows[2].execution_id, None]
    assert {r.first_execution_id for r in rows[1:]} == {rows[0].execution_id}
    for earlier, later, delay in ((rows[0], rows[1], 1.0), (rows[1], rows[2], 2.0)):
        assert earlier.completed_at is not None
        assert later.started_at is not None
        gap = (later.started_at - earlier.completed_at).total_seconds()
        assert gap >= delay, (gap, delay)  # never before its delay
        assert gap < delay * 1.1 + 1.5, (gap, delay)  # and released when due, not at the next idle wake-up
    starts = read_log(log)
    assert [int(line[-1]) for line in starts] == [1, 2, 3]  # each attempt's task started once
    for row in rows:  # started_at is the task's own start (its log line), not the slot
        logged = float(next(line[3] for line in starts if line[0] == row.execution_id))
        assert row.started_at is not None
        assert abs(row.started_at.timestamp() - logged) < 0.5
        assert row.claimed_at is not None
        assert row.claimed_at <= row.started_at


async def test_queue_runs_every_due_slot_in_order_one_at_a_time_after_an_outage(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    """Six slots came due while nothing ran (coalesce off): under overlap policy queue each runs, in slot order,
    never two at once (max_instances 1); under skip all but one would be skipped."""
    log, ends = tmp_path / "starts.log", tmp_path / "ends.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        job_id = await _job(
            pg_engine,
            "record",
            first_in=-5.5,
            interval_seconds=1,
            coalesce=False,
            max_instances=1,
            misfire_grace_time=60,
            overlap_policy="queue",
            parameters={"log": str(log), "seconds": 0.3, "end_log": str(ends)},
        )
        await p.start_timekeeper()
        p.wake()
        # The six past slots and later ones on time: ten ended, then stop between two slots, none queued (a run
        # still waiting when the timekeeper stops would never be released).
        await runs_ended(pg_engine, job_id, 10, none_open=True, timeout=30)
        await p.timekeepers[0].stop()
        rows = [r for r in await wait_until_settled(pg_engine, timeout=30) if r.job_id == job_id]

    assert len(rows) >= 10
    assert {ExecutionStatus(r.status_id).name for r in rows} == {"SUCCESS"}, [
        (r.scheduled_at, r.status_id) for r in rows
    ]
    spans = sorted((float(line[3]), float(line[5]), line[2]) for line in read_log(ends))
    assert len(spans) == len(rows)
    assert [slot for _, _, slot in spans] == sorted(slot for _, _, slot in spans), "started out of slot order"
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert start >= end, "two runs of a max_instances=1 job at once"
    assert sum(1 for r in rows if r.queued_at is not None) >= 5


async def test_replace_cancels_the_running_run_for_the_new_one(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log, ends = tmp_path / "starts.log", tmp_path / "ends.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        job_id = await _job(
            pg_engine,
            "hang",
            interval_seconds=2,
            max_instances=1,
            overlap_policy="replace",
            parameters={"log": str(log), "end_log": str(ends)},
        )
        await p.start_timekeeper()
        p.wake()

        async def two_started() -> bool:
            return len(read_log(log)) >= 2

        await _until(two_started, 15, "the replacing run to start")
        await p.timekeepers[0].stop()
        rows = sorted(await executions(pg_engine, job_id), key=lambda r: r.scheduled_at)

    first, second = rows[0], rows[1]
    assert first.status_id == ExecutionStatus.CANCELLED
    assert first.cancelled_by == f"replaced by run {second.execution_id}"
    assert first.error_message == f"cancelled: replaced by run {second.execution_id}"
    ended = {line[0]: line[-1] for line in read_log(ends)}
    assert ended[first.execution_id] == "cancelled"  # its coroutine saw the cancellation
    starts = {line[0]: float(line[3]) for line in read_log(log)}
    assert starts[second.execution_id] >= float(
        next(line[5] for line in read_log(ends) if line[0] == first.execution_id)
    )
    assert second.queued_at is not None


async def test_a_job_pauses_itself_after_failed_slots_in_a_row(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        job_id = await _job(
            pg_engine, "crash", interval_seconds=1, pause_after_failures=3, parameters={"log": str(log)}
        )
        await p.start_timekeeper()
        p.wake()
        maker = create_sessionmaker(pg_engine)

        async def paused() -> ScheduledJob | None:
            async with maker() as session:
                job = (await session.execute(select(ScheduledJob).where(ScheduledJob.id == job_id))).scalar_one()
                return job if job.is_paused else None

        job = await _until(paused, 15, "the job to pause itself")
        await asyncio.sleep(2.5)  # no slot runs any more
        rows = await wait_until_settled(pg_engine)

    runs = [r for r in rows if r.job_id == job_id]
    assert [ExecutionStatus(r.status_id).name for r in runs] == ["FAILED"] * 3
    assert (job.consecutive_failures, job.next_run_at) == (3, None)
    assert job.paused_reason is not None
    assert "3 consecutive failed" in job.paused_reason


async def test_cancel_stops_a_running_async_task_and_a_cooperative_thread(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log, ends = tmp_path / "starts.log", tmp_path / "ends.log"
    parameters = {"log": str(log), "end_log": str(ends), "seconds": 60}
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await p.start_executor()
        jobs = [await _job(pg_engine, task, parameters=parameters) for task in ("hang", "cooperate")]
        await p.start_timekeeper()
        p.wake()

        async def both_running() -> list[str]:
            lines = read_log(log)
            return [line[0] for line in lines] if len(lines) == 2 else []

        running = await _until(both_running, 10, "both tasks to start")
        await asyncio.sleep(1.0)  # they run a while before the cancel: their durations are not 0
        maker = create_sessionmaker(pg_engine)
        async with maker.begin() as session:
            store = store_of(session)
            now = await store.clock.now(session)
            asked = [await store.history.cancel(session, eid, by="user operator", now=now) for eid in running]
        rows = await wait_until_settled(pg_engine, timeout=15)

    assert asked == [Cancellation.REQUESTED, Cancellation.REQUESTED]
    by_id = {r.execution_id: r for r in rows}
    for execution_id in running:
        row = by_id[execution_id]
        assert (row.status_id, row.error_message) == (ExecutionStatus.CANCELLED, "cancelled: user operator")
        assert row.cancel_requested_at is not None
        assert row.completed_at is not None
        # Within a heartbeat or two of the request (the renewal that carries it), not the task's 60 s.
        assert (row.completed_at - row.cancel_requested_at).total_seconds() < 4 * HEARTBEAT_S + 1
        # Its real run time: from its task's start until it stopped, not 0 (both clocks are the database's).
        assert row.started_at is not None
        assert row.duration_ms is not None
        ran_s = (row.cancel_requested_at - row.started_at).total_seconds()
        assert ran_s >= 1.0
        assert ran_s - 0.25 <= row.duration_ms / 1000 <= (row.completed_at - row.started_at).total_seconds() + 0.5
    how = {line[0]: line[-1] for line in read_log(ends)}
    assert sorted(how.values()) == ["cancel-requested", "cancelled"]
    assert all(r.retried_by is None for r in rows)
    assert {r.job_id for r in rows} >= set(jobs)


async def test_a_rerun_runs_again_as_a_manual_run(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    async with pipeline(postgres_url, rabbit.broker_factory()) as p:
        await _started(p)
        job_id = await _job(pg_engine, "record", parameters={"log": str(log)})
        p.wake()

        async def first_run() -> ScheduledJobExecution | None:
            rows = await executions(pg_engine, job_id)
            return rows[0] if rows and ExecutionStatus(rows[0].status_id).is_terminal else None

        original = await _until(first_run, 10, "the job's first run")
        rerun_id = str(uuid.uuid4())
        async with create_sessionmaker(pg_engine).begin() as session:  # as the API's rerun writes it
            store = store_of(session)
            now = await store.clock.now(session)
            run = NewExecution(rerun_id, job_id, now, trigger=Trigger.MANUAL, rerun_of=original.execution_id)
            await store.outbox.add(session, [run])
            await store.jobs.notify_changed(session)
        rerun = await _until(lambda: _finished(pg_engine, rerun_id), 10, "the re-run to finish")

    assert (rerun.status_id, rerun.rerun_of, rerun.trigger) == (
        ExecutionStatus.SUCCESS,
        original.execution_id,
        "manual",
    )
    assert [line[0] for line in read_log(log)] == [original.execution_id, rerun_id]


async def _finished(engine: AsyncEngine, execution_id: str) -> ScheduledJobExecution | None:
    rows = [r for r in await executions(engine) if r.execution_id == execution_id]
    return rows[0] if rows and ExecutionStatus(rows[0].status_id).is_terminal else None

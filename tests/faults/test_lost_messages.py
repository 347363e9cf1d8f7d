"""A run whose message the broker confirmed and then lost is not left pending for ever (guarantee 2): the queue
is purged while no executor consumes it, so the outbox, which saw the messages confirmed, will not publish them
again. The sweep records a scheduled run missed with the reason once its job's misfire grace time has passed, and
the slots after it run as usual; a manual run, which has no grace time, is published again after the lost-message
timeout and runs once."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import NewExecution
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, Trigger
from tests.faults.history import history_report
from tests.support.cluster import Cluster, create_job, eventually, execution, executions, settle, succeeded_on
from tests.support.measurements import measured
from tests.support.pipeline import FAST_TIMEKEEPER, Pipeline
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_of
from tests.support.tasks import read_log

# Seconds. The job's grace time; a run is missed once its lateness in whole seconds exceeds it (the claim's
# rule), and the sweep runs every FAST_TIMEKEEPER.sweep_interval.
GRACE_S = 1
BOUND_S = GRACE_S + 1 + FAST_TIMEKEEPER.sweep_interval
# Scheduling noise on a loaded 2-core machine.
SLACK_S = 1.5


async def confirmed_pending(engine: AsyncEngine, job_id: int) -> ScheduledJobExecution | None:
    """A pending run of the job whose message the broker confirmed (published_at is written after that)."""
    rows = await executions(engine, job_id)
    confirmed = [r for r in rows if r.status_id == ExecutionStatus.PENDING and r.published_at is not None]
    return confirmed[0] if confirmed else None


@pytest.mark.timeout(40)
async def test_a_run_whose_confirmed_message_was_lost_is_recorded_missed_after_its_grace_time(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    job = await create_job(
        pg_engine, interval_seconds=1, first_in=0.2, misfire_grace_time=GRACE_S, parameters={"log": str(log)}
    )
    await local.start_timekeeper()  # and no executor yet: the runs wait in the queue
    lost = await eventually(lambda: confirmed_pending(pg_engine, job.job_id), 10, "a run confirmed by the broker")
    assert await rabbit.purge_queue(cluster.queue) >= 1

    async def recorded_missed() -> ScheduledJobExecution | None:
        row = await execution(pg_engine, lost.execution_id)
        return row if row.status_id != ExecutionStatus.PENDING else None

    recorded = await eventually(recorded_missed, BOUND_S + SLACK_S + 5, "the lost run to leave pending")
    assert recorded.status_id == ExecutionStatus.MISSED
    assert recorded.completed_at is not None
    after_slot = (recorded.completed_at - recorded.scheduled_at).total_seconds()
    print(f"run lost by the broker recorded missed {after_slot:.2f} s after its slot: {recorded.error_message}")
    measured("lost_message_missed_after_slot_s", after_slot)
    assert after_slot <= BOUND_S + SLACK_S
    assert f"not claimed by any executor within the job's misfire grace time of {GRACE_S} s" in (
        recorded.error_message or ""
    )

    # The slots after the purge run once an executor consumes the queue.
    executor = await local.start_executor()
    await eventually(lambda: succeeded_on(pg_engine, job.job_id, executor.instance.id), 15, "a later slot to succeed")
    await local.timekeepers[0].stop()
    await settle(pg_engine)
    report = await history_report(pg_engine, [job], [log])
    assert not report.lost, report
    assert not report.duplicated, report
    assert not report.unexpected, report


# Seconds a confirmed manual run may stay pending before the sweep puts it back into the outbox, in this test.
LOST_MESSAGE_TIMEOUT_S = 2.0


@pytest.mark.timeout(40)
async def test_a_manual_run_whose_confirmed_message_was_lost_is_published_again_and_runs_once(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    job = await create_job(pg_engine, interval_seconds=3600, first_in=3600, parameters={"log": str(log)})
    await local.start_timekeeper(replace(FAST_TIMEKEEPER, lost_message_timeout=LOST_MESSAGE_TIMEOUT_S))
    execution_id = str(uuid.uuid4())
    async with create_sessionmaker(pg_engine).begin() as session:
        now = await store_of(session).clock.now(session)
        run = NewExecution(execution_id, job.job_id, now, trigger=Trigger.MANUAL)
        assert await store_of(session).outbox.add(session, [run]) == [execution_id]
    local.wake()  # the relay publishes manual runs at once; no executor consumes yet
    lost = await eventually(lambda: confirmed_pending(pg_engine, job.job_id), 10, "the manual run confirmed")
    assert lost.execution_id == execution_id
    assert await rabbit.purge_queue(cluster.queue) == 1
    purged_at = time.time()

    executor = await local.start_executor()

    async def finished() -> ScheduledJobExecution | None:
        row = await execution(pg_engine, execution_id)
        return row if row.status_id not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING) else None

    bound = LOST_MESSAGE_TIMEOUT_S + FAST_TIMEKEEPER.sweep_interval
    recorded = await eventually(finished, bound + SLACK_S + 10, "the lost manual run to run")
    assert recorded.status_id == ExecutionStatus.SUCCESS
    assert recorded.executor_id == executor.instance.id
    assert recorded.completed_at is not None
    assert lost.published_at is not None
    after_confirmation = (recorded.completed_at - lost.published_at).total_seconds()
    print(
        f"manual run lost by the broker ran {after_confirmation:.2f} s after its first confirmation "
        f"({time.time() - purged_at:.2f} s after the purge)"
    )
    measured("lost_manual_run_ran_after_confirmation_s", after_confirmation)
    assert after_confirmation <= bound + SLACK_S
    assert [line[0] for line in read_log(log)] == [execution_id]
    await local.timekeepers[0].stop()

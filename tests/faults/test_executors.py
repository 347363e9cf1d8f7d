"""Executors that die, freeze, or run bad task code: a SIGKILLed executor's run is failed with a reason within
the stated bound and the job keeps its schedule (guarantee 4); a frozen executor resumes past its lease and ends
itself before its task runs on (guarantee 7), and its late outcome could not be recorded anyway (fenced finish);
a crashing task and a hanging task are failed with their reason and
never retried (guarantee 5). The executor under test is a real process (`python -m scheduler_cli executor`)."""

from __future__ import annotations

import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core import leases, verdicts
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, ScheduledJobLock, SchedulerInstance
from tests.faults.checker import read_starts
from tests.faults.history import history_report
from tests.support.cluster import (
    Cluster,
    create_job,
    db_now,
    eventually,
    execution,
    executions,
    instance_of_pid,
    log_events,
    settle,
    succeeded_on,
)
from tests.support.measurements import measured
from tests.support.pipeline import Pipeline
from tests.support.tasks import read_log

# The detection bounds recovery.py states, with the intervals service_env sets (seconds). A killed executor, by
# the evidence of its vanished presence mark (its lease made long here, so that only the evidence can act):
# instance_timeout 2 + heartbeat 0.5 + PRESENCE_GRACE_S 2 + 2 sweeps of 0.5.
KILLED_BOUND_S = 2.0 + 0.5 + leases.PRESENCE_GRACE_S + 2 * 0.5
# A frozen executor, whose broker connection lives on: by its lease, lock_ttl 3 + heartbeat 0.5 + sweep 0.5.
LEASE_BOUND_S = 3.0 + 0.5 + 0.5
# Process start-up and scheduling noise on a loaded 2-core machine (seconds).
SLACK_S = 1.5


async def running_on(engine: AsyncEngine, job_id: int, instance_id: str, log: Path) -> str | None:
    """The execution id of a run of the job that `instance_id` is running and whose task has started (its
    start is in `log`), if any: a run claimed ahead of its slot is running before its task starts."""
    rows = await executions(engine, job_id)
    started = {line[0] for line in read_log(log)}
    running = [
        r
        for r in rows
        if r.status_id == ExecutionStatus.RUNNING and r.executor_id == instance_id and r.execution_id in started
    ]
    return running[0].execution_id if running else None


async def failed_after(engine: AsyncEngine, execution_id: str, since: float) -> float | None:
    """Seconds from `since` (unix time) to the run's failure, once it is failed."""
    row = await execution(engine, execution_id)
    if row.status_id != ExecutionStatus.FAILED:
        return None
    assert row.completed_at is not None
    return row.completed_at.timestamp() - since


@pytest.mark.timeout(35)
async def test_sigkilled_executor_run_is_failed_within_the_bound_and_the_next_slot_runs_elsewhere(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    hold, log = tmp_path / "hold", tmp_path / "starts.log"
    hold.touch()
    # A lease far longer than the test: the run can only be failed early, on the evidence that its executor died.
    [victim] = await cluster.executors(1, env={"SCHEDULER_LOCK_TTL": "60"})
    victim_id = await eventually(lambda: instance_of_pid(pg_engine, victim.pid), 10, "victim instance")
    job = await create_job(
        pg_engine, interval_seconds=2, first_in=0.2, parameters={"log": str(log), "hold_while": str(hold)}
    )
    await local.start_timekeeper()

    first = await eventually(lambda: running_on(pg_engine, job.job_id, victim_id, log), 15, "the victim to start a run")
    killed_at = time.time()
    victim.kill()
    hold.unlink()  # runs after this one finish at once

    detected_after = await eventually(
        lambda: failed_after(pg_engine, first, killed_at), KILLED_BOUND_S + SLACK_S + 5, "the lost run to be failed"
    )
    print(f"SIGKILLed executor's run failed {detected_after:.2f} s after the kill")
    measured("killed_executor_detection_s", detected_after)
    assert detected_after <= KILLED_BOUND_S + SLACK_S
    lost_run = await execution(pg_engine, first)
    assert lost_run.error_message == verdicts.executor_lost(victim_id)
    async with create_sessionmaker(pg_engine)() as session:
        locks = (await session.execute(select(ScheduledJobLock.execution_id))).scalars().all()
    assert first not in locks

    rescuer = await local.start_executor()

    async def later_slot_succeeded_on_rescuer() -> bool | None:
        rows = await executions(pg_engine, job.job_id)
        first_slot = next(r.scheduled_at for r in rows if r.execution_id == first)
        ok = [
            r
            for r in rows
            if r.scheduled_at > first_slot
            and r.status_id == ExecutionStatus.SUCCESS
            and r.executor_id == rescuer.instance.id
        ]
        return True if ok else None

    await eventually(later_slot_succeeded_on_rescuer, 15, "a later slot to succeed on another executor")
    await local.timekeepers[0].stop()
    await settle(pg_engine)
    assert await victim.stop() == -signal.SIGKILL

    # The killed task started once and was never started again; every slot is accounted for.
    assert [line[0] for line in read_log(log)].count(first) == 1
    report = await history_report(pg_engine, [job], [log])
    assert not report.lost, report
    assert not report.duplicated, report
    assert not report.unexpected, report
    assert report.outcomes["failed"] == 1, report


@pytest.mark.timeout(35)
async def test_an_executor_paused_past_its_lease_has_its_run_failed_and_ends_itself_when_it_resumes(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    hold, log, ends = tmp_path / "hold", tmp_path / "starts.log", tmp_path / "ends.log"
    hold.touch()
    [victim] = await cluster.executors(1)
    victim_id = await eventually(lambda: instance_of_pid(pg_engine, victim.pid), 10, "victim instance")
    job = await create_job(
        pg_engine,
        interval_seconds=2,
        first_in=0.2,
        parameters={"log": str(log), "hold_while": str(hold), "end_log": str(ends)},
    )
    await local.start_timekeeper()

    first = await eventually(lambda: running_on(pg_engine, job.job_id, victim_id, log), 15, "the victim to start a run")
    victim.kill(signal.SIGSTOP)
    stopped_at = time.time()
    hold.unlink()  # the task would finish now, were its process running
    rescuer = await local.start_executor()

    detected_after = await eventually(
        lambda: failed_after(pg_engine, first, stopped_at), LEASE_BOUND_S + SLACK_S + 5, "the run to be failed"
    )
    print(f"SIGSTOPped executor's run failed {detected_after:.2f} s after the stop")
    measured("paused_executor_lease_detection_s", detected_after)
    assert detected_after <= LEASE_BOUND_S + SLACK_S
    recorded = await execution(pg_engine, first)
    assert recorded.error_message == verdicts.LEASE_EXPIRED

    victim.kill(signal.SIGCONT)
    resumed_at = time.monotonic()
    # It resumes past its lease: its watchdog ends the process before the task runs on (exit code 7, for its
    # orchestrator to restart it), so the task never reaches its end and never writes an outcome.
    await eventually(lambda: _exited(victim.process.returncode), 10, "the victim to exit")
    measured("paused_executor_exit_after_resume_s", time.monotonic() - resumed_at)
    assert victim.process.returncode == leases.FENCED_EXIT_CODE, victim.log_tail()
    assert "process_fenced" in log_events(victim), victim.log_tail()
    assert not [line for line in read_log(ends) if line[0] == first], "the frozen task ran on after it resumed"
    final = await execution(pg_engine, first)
    assert (final.status_id, final.error_message, final.completed_at, final.duration_ms, final.result_summary) == (
        ExecutionStatus.FAILED,
        recorded.error_message,
        recorded.completed_at,
        None,
        None,
    )

    await eventually(
        lambda: succeeded_on(pg_engine, job.job_id, rescuer.instance.id), 15, "a later slot to run elsewhere"
    )
    await local.timekeepers[0].stop()
    await settle(pg_engine)
    report = await history_report(pg_engine, [job], [log])
    assert not report.lost, report
    assert not report.duplicated, report
    assert not report.unexpected, report
    assert report.outcomes["failed"] >= 1, report


@pytest.mark.timeout(45)
async def test_an_executor_declared_dead_claims_no_run_under_its_old_id_and_registers_again(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    """Found by this suite once: after SIGCONT, an executor that the sweep had declared dead still claimed the
    deliveries it received while frozen, before its next heartbeat told it so. The claim refuses an instance
    declared dead; the executor, holding no run, registers again under a new id and goes on (no ghost: its old
    row stays stopped, its new one is live)."""
    log = tmp_path / "starts.log"
    # A short AMQP heartbeat: RabbitMQ drops the frozen process within seconds, its presence mark with it, which
    # is the evidence the sweep needs to declare an executor dead.
    [victim] = await cluster.executors(1, env={"SCHEDULER_AMQP_HEARTBEAT": "1"})
    victim_id = await eventually(lambda: instance_of_pid(pg_engine, victim.pid), 10, "victim instance")
    job = await create_job(pg_engine, interval_seconds=1, first_in=0.2, parameters={"log": str(log)})
    await local.start_timekeeper()
    await eventually(lambda: succeeded_on(pg_engine, job.job_id, victim_id), 15, "the victim to run a slot")

    victim.kill(signal.SIGSTOP)
    frozen_at = await db_now(pg_engine)
    # While it is frozen: declared dead by the sweep, and runs published to it (the only consumer).
    declared_dead_at = await eventually(lambda: _declared_dead(pg_engine, victim_id), 20, "the victim declared dead")
    await eventually(lambda: _published_since(pg_engine, job.job_id, frozen_at), 15, "a run published to it")
    victim.kill(signal.SIGCONT)
    reborn = await eventually(lambda: _registered_again(pg_engine, victim.pid, victim_id), 15, "a new instance")
    await eventually(lambda: succeeded_on(pg_engine, job.job_id, reborn), 15, "the victim to run again, as new")
    await local.timekeepers[0].stop()
    await settle(pg_engine)
    assert victim.process.returncode is None, victim.log_tail()

    report = await history_report(pg_engine, [job], [log])
    assert not report.lost, report
    assert not report.duplicated, report
    zombie = [
        f"{r.execution_id} claimed at {r.started_at.isoformat()}: {ExecutionStatus(r.status_id).name.lower()}"
        + (f" ({r.error_message})" if r.error_message else "")
        for r in await executions(pg_engine, job.job_id)
        if r.executor_id == victim_id and r.started_at is not None and r.started_at > declared_dead_at
    ]
    assert not zombie, f"runs claimed by the executor after it was declared dead at {declared_dead_at}: {zombie}"
    assert "instance_reregistered" in log_events(victim), victim.log_tail()


async def _registered_again(engine: AsyncEngine, pid: int, old_id: str) -> str | None:
    """The id of a live instance of this process other than `old_id`."""
    async with create_sessionmaker(engine)() as session:
        rows = (
            (
                await session.execute(
                    select(SchedulerInstance).where(
                        SchedulerInstance.process_id == pid,
                        SchedulerInstance.id != old_id,
                        SchedulerInstance.status != InstanceStatus.STOPPED,
                    )
                )
            )
            .scalars()
            .all()
        )
    return rows[0].id if rows else None


async def _declared_dead(engine: AsyncEngine, instance_id: str) -> datetime | None:
    async with create_sessionmaker(engine)() as session:
        instance = await session.get(SchedulerInstance, instance_id, populate_existing=True)
        assert instance is not None
        return instance.stopped_at if instance.status == InstanceStatus.STOPPED else None


async def _published_since(engine: AsyncEngine, job_id: int, since: datetime) -> bool | None:
    rows = await executions(engine, job_id)
    return True if any(r.published_at is not None and r.published_at > since for r in rows) else None


async def _ended(ends: Path, execution_id: str) -> bool | None:
    return True if any(line[0] == execution_id for line in read_log(ends)) else None


async def _exited(returncode: int | None) -> int | None:
    return returncode


@pytest.mark.timeout(40)
async def test_a_crashing_task_and_a_hanging_task_are_failed_with_their_reason_and_never_retried(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    log, ends = tmp_path / "starts.log", tmp_path / "ends.log"
    await cluster.executors(1)
    crash = await create_job(
        pg_engine, task="crash", interval_seconds=1, parameters={"log": str(log), "message": "boom: bad input"}
    )
    hang = await create_job(
        pg_engine,
        task="hang",
        interval_seconds=2,
        timeout_seconds=1,
        parameters={"log": str(log), "end_log": str(ends)},
    )
    block = await create_job(
        pg_engine,
        task="block",
        interval_seconds=2,
        timeout_seconds=1,
        parameters={"log": str(log), "end_log": str(ends), "seconds": 2.5},
    )
    await local.start_timekeeper()
    local.wake()
    await eventually(lambda: _failed_runs(pg_engine, hang.job_id, 3), 30, "three hanging runs to time out")
    await local.timekeepers[0].stop()
    rows = await settle(pg_engine)
    report = await history_report(pg_engine, [crash, hang, block], [log])
    assert not report.lost, report
    assert not report.duplicated, report
    assert not report.unexpected, report

    by_job = {job.job_id: [r for r in rows if r.job_id == job.job_id] for job in (crash, hang, block)}
    starts = {start.execution_id for start in read_starts(log)}
    assert len(by_job[crash.job_id]) >= 3
    for row in by_job[crash.job_id]:
        assert row.status_id == ExecutionStatus.FAILED
        assert row.error_message == "RuntimeError: boom: bad input"
        assert row.error_traceback is not None
        assert "raise RuntimeError(params.message)" in row.error_traceback
        assert "tests/support/tasks.py" in row.error_traceback
    timed_out = [r for job in (hang, block) for r in by_job[job.job_id] if r.execution_id in starts]
    assert len(timed_out) >= 4
    durations = []
    for row in timed_out:
        assert row.status_id == ExecutionStatus.FAILED
        assert row.error_message == "timed out after 1 s"
        assert row.duration_ms is not None
        assert row.started_at is not None
        assert row.completed_at is not None
        durations.append((row.completed_at - row.started_at).total_seconds())
    print(f"timed-out runs recorded after {min(durations):.2f}..{max(durations):.2f} s (timeout 1 s)")
    for duration in durations:
        measured("timed_out_recorded_after_s", duration)
    assert all(1.0 <= d <= 1.0 + SLACK_S for d in durations), durations
    # The async task was cancelled by the timeout; the thread of the blocking one ran on and ended later, its
    # result discarded.
    endings = {line[0]: line[6] for line in read_log(ends)}
    assert all(endings.get(r.execution_id) == "cancelled" for r in by_job[hang.job_id] if r.execution_id in starts)
    assert any(endings.get(r.execution_id) == "returned" for r in by_job[block.job_id])
    # At most once: no run of a job without retries started twice (checked above), and none is a success.
    assert not any(r.status_id == ExecutionStatus.SUCCESS for r in rows)


async def _failed_runs(engine: AsyncEngine, job_id: int, count: int) -> bool | None:
    rows = await executions(engine, job_id)
    return True if sum(1 for r in rows if r.status_id == ExecutionStatus.FAILED) >= count else None

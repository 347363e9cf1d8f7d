"""Leases that hold when a process pauses or is cut off (guarantees 7 and 8): the services as real processes, each
cut from PostgreSQL or RabbitMQ through proxies this test owns (tests/support/proxy.py), never by stopping the
shared servers. Every scenario checks the whole history (0 lost, 0 duplicated) and, for max_instances=1 jobs,
that no two runs' task code ran at once beyond the watchdog interval, from the tasks' own activity log."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core import leases
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, SchedulerInstance
from tests.faults.history import history_report
from tests.faults.overlap import concurrency_breaches, longest_overlap, read_activity, read_segments
from tests.support.cluster import (
    Cluster,
    create_job,
    eventually,
    executions,
    instance_of_pid,
    log_events,
    settle,
)
from tests.support.measurements import measured
from tests.support.pipeline import Pipeline
from tests.support.processes import RoleProcess, service_token

# The watchdog interval the services run with (SCHEDULER_WATCHDOG_INTERVAL's default), and the tick of the `work`
# task (seconds): task code of a fenced run may run one watchdog interval, seen at the resolution of one tick.
WATCHDOG_S = 0.1
TICK_S = 0.05
OVERLAP_BOUND_S = WATCHDOG_S + TICK_S
# A run that logged nothing for this long (seconds, 20 ticks) was frozen, not working.
FROZEN_S = 20 * TICK_S


def _starts_by_run(log: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        execution_id, _, event, *_ = line.split()
        if event == "start":
            counts[execution_id] = counts.get(execution_id, 0) + 1
    return counts


async def _working_on(log: Path, pid: int) -> str | None:
    """A run whose task code is running in process `pid` (it logged a start, no end yet)."""
    activity = read_activity(log)
    running = [run.execution_id for run in activity.values() if run.pid == pid and not run.ended]
    return running[0] if running else None


async def _logged(process: RoleProcess, event: str) -> bool | None:
    return True if event in log_events(process) else None


async def _exit_code(process_returncode: int | None) -> int | None:
    return process_returncode


async def _failed(engine: AsyncEngine, execution_id: str) -> str | None:
    rows = [r for r in await executions(engine) if r.execution_id == execution_id]
    return rows[0].error_message if rows and rows[0].status_id == ExecutionStatus.FAILED else None


async def _started_on(engine: AsyncEngine, job_id: int, instance_id: str) -> int:
    """How many runs of the job started on that executor instance."""
    return sum(1 for r in await executions(engine, job_id) if r.executor_id == instance_id and r.started_at)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("task", ["work", "work_in_thread"])
async def test_an_executor_paused_past_its_lease_never_runs_its_task_beside_the_next_run(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path, task: str
) -> None:
    """SIGSTOP an executor for twice its lease while its task works (a VM pause, a long GC): the sweep fails the
    run when the lease expires and another executor runs the next slot; when the paused one resumes, its fence
    ends it before its task runs on (an async task is gated before every step; a thread is stopped by the
    watchdog within one interval). Overlap, from the task's own log: at most a watchdog interval."""
    log = tmp_path / "activity.log"
    [victim] = await cluster.executors(1)
    job = await create_job(
        pg_engine, task=task, interval_seconds=1, first_in=0.3, max_instances=1, tracks_starts=False,
        parameters={"log": str(log), "seconds": 2.5, "tick": TICK_S},
    )  # fmt: skip
    await local.start_timekeeper()
    held = await eventually(lambda: _working_on(log, victim.pid), 15, "the victim to start working")
    victim.kill(signal.SIGSTOP)
    paused_at = time.monotonic()
    other = await local.start_executor()
    reason = await eventually(lambda: _failed(pg_engine, held), 15, "the paused run to be failed")
    # Let the other executor work on the next slot while the victim is still frozen, then resume the victim.
    await asyncio.sleep(max(0.0, 6.0 - (time.monotonic() - paused_at)))
    victim.kill(signal.SIGCONT)
    resumed_at = time.monotonic()
    code = await eventually(lambda: _exit_code(victim.process.returncode), 10, "the victim to end itself")
    measured(f"paused_{task}_exit_after_resume_s", time.monotonic() - resumed_at)
    # The next runs go on elsewhere: one more starts on the other executor after the victim ended.
    so_far = await _started_on(pg_engine, job.job_id, other.instance.id)

    async def one_more() -> bool | None:
        return True if await _started_on(pg_engine, job.job_id, other.instance.id) > so_far else None

    await eventually(one_more, 15, "a later run to start on the other executor")
    await local.timekeepers[0].stop()
    await settle(pg_engine)

    assert code == leases.FENCED_EXIT_CODE, victim.log_tail()
    assert reason is not None
    assert "lock expired" in reason
    activity = read_activity(log)
    assert not activity[held].ended, "the paused task ran to its end after it resumed"
    assert await _failed(pg_engine, held) == reason, "the fenced executor overwrote the run's outcome"
    # The frozen stretch is not task code running: a thread may log one step on resuming, before the watchdog.
    segments = read_segments(log, silence=FROZEN_S)
    overlap = longest_overlap(segments, {job.job_id: 1})
    measured(f"paused_{task}_overlap_s", overlap)
    assert overlap <= OVERLAP_BOUND_S, concurrency_breaches(segments, {job.job_id: 1}, OVERLAP_BOUND_S)
    assert set(_starts_by_run(log).values()) == {1}, "a run's task started twice"
    report = await history_report(pg_engine, [job], [])
    assert not report.lost, report
    assert not report.duplicated, report


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("task", "cut"), [("work", "cut"), ("work", "stall"), ("work_in_thread", "cut")])
async def test_an_executor_cut_from_the_database_alone_stops_its_task_before_its_lease_ends(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path, task: str, cut: str
) -> None:
    """A partial partition: one executor loses PostgreSQL (its own link, reset or silently stalled) while the rest
    of the cluster does not. Its presence on the broker still vouches for it, so the sweep waits for its lease
    to expire; the executor, which cannot renew, stops its task before then (cancelled, or, in a thread, by
    ending the process). No two runs of the job overlap; when the link comes back an async executor goes on
    under its own instance (it was never declared dead)."""
    log = tmp_path / "activity.log"
    [victim] = await cluster.executors(1, linked=True)
    job = await create_job(
        pg_engine, task=task, interval_seconds=1, first_in=0.3, max_instances=1, tracks_starts=False,
        parameters={"log": str(log), "seconds": 6.0, "tick": TICK_S},
    )  # fmt: skip
    await local.start_timekeeper()
    held = await eventually(lambda: _working_on(log, victim.pid), 15, "the victim to start working")
    victim_id = await eventually(lambda: instance_of_pid(pg_engine, victim.pid), 10, "the victim's instance")
    [link] = cluster.database_links([victim])
    cut_at = time.time()
    link.stall() if cut == "stall" else link.cut()
    await local.start_executor()
    await eventually(lambda: _failed(pg_engine, held), 20, "the cut-off run to be failed")
    freed_after = time.time() - cut_at
    measured(f"partitioned_{task}_{cut}_freed_after_s", freed_after)
    await asyncio.sleep(2)
    link.restore()
    await asyncio.sleep(3)
    await local.timekeepers[0].stop()
    await settle(pg_engine)

    activity = read_activity(log)
    last_sign = activity[held].last - cut_at
    measured(f"partitioned_{task}_{cut}_task_stopped_after_s", last_sign)
    # The lease (3 s with the fault settings) ran from the last renewal before the cut: the task stopped within it.
    assert last_sign < 3.0, f"the cut-off task ran {last_sign:.2f} s after the cut"
    overlap = longest_overlap(activity, {job.job_id: 1})
    assert overlap <= OVERLAP_BOUND_S, concurrency_breaches(activity, {job.job_id: 1}, OVERLAP_BOUND_S)
    assert set(_starts_by_run(log).values()) == {1}
    if task == "work_in_thread":
        assert victim.process.returncode == leases.FENCED_EXIT_CODE, victim.log_tail()
    else:
        assert victim.process.returncode is None, victim.log_tail()
        assert "run_fenced" in log_events(victim)
        async with create_sessionmaker(pg_engine)() as session:
            row = await session.get(SchedulerInstance, victim_id, populate_existing=True)
        assert row is not None
        assert row.status != InstanceStatus.STOPPED, "declared dead although its broker connection vouched for it"
    report = await history_report(pg_engine, [job], [])
    assert not report.lost, report
    assert not report.duplicated, report


@pytest.mark.timeout(40)
async def test_start_up_retries_an_unreachable_database_then_exits_with_its_own_code_and_one_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    [doomed] = await cluster.start("executor", linked=True, env={"SCHEDULER_STARTUP_TIMEOUT": "3"}, ready=False)
    cluster.database_links([doomed])[0].cut()
    started = time.monotonic()
    code = await eventually(lambda: _exit_code(doomed.process.returncode), 30, "the executor to give up")
    assert code == 6, doomed.log_tail()
    gave_up_after = time.monotonic() - started
    measured("startup_gave_up_after_s", gave_up_after)
    assert gave_up_after >= 3.0
    tries = log_events(doomed).count("database_unreachable")
    measured("startup_tries", tries)
    assert tries >= 2, doomed.log_tail()
    errors = [line for line in doomed.log_tail(200).splitlines() if line.startswith("error:")]
    assert len(errors) == 1, doomed.log_tail()
    assert errors[0].startswith("error: cannot reach the database at postgresql+asyncpg://"), errors
    assert "Traceback" not in doomed.log_path.read_text()

    [patient] = await cluster.start("executor", linked=True, env={"SCHEDULER_STARTUP_TIMEOUT": "30"}, ready=False)
    link = cluster.database_links([patient])[0]
    link.cut()
    # Restored once it has met the cut (not after a fixed time: a loaded machine may start the process later).
    await eventually(lambda: _logged(patient, "database_unreachable"), 25, "its first try to fail")
    link.restore()
    await patient.wait_ready(timeout=30)
    assert "database_reached" in log_events(patient)


async def _rows_of(engine: AsyncEngine, job_id: int) -> list[tuple[float, float, int, int]]:
    """(slot, written, coalesced_count, status) of the job's runs, instants as unix times."""
    return [
        (r.scheduled_at.timestamp(), r.created_at.timestamp(), r.coalesced_count, r.status_id)
        for r in await executions(engine, job_id)
    ]


@pytest.mark.timeout(60)
async def test_a_broker_outage_never_holds_the_timekeepers_passes(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    """RabbitMQ cut (reset, then stalled) for the timekeeper alone, 6 s each: its passes go on writing every slot
    on time, one row per slot (nothing coalesced because the broker was slow), and the runs are published and
    run once it is back. Before, each publish held the loop up to the publish timeout and slots were folded
    (280 coalesced rows after cuts of 3-9 s in the issue's test)."""
    log = tmp_path / "starts.log"
    [timekeeper] = await cluster.timekeepers(1, linked=True)
    await local.start_executor()
    jobs = [
        await create_job(pg_engine, interval_seconds=1, first_in=0.5, coalesce=True, parameters={"log": str(log)})
        for _ in range(4)
    ]
    await asyncio.sleep(2)
    [link] = cluster.broker_links([timekeeper])
    outage_started = time.time()
    for mode in ("cut", "stall"):
        link.stall() if mode == "stall" else link.cut()
        await asyncio.sleep(6)
        link.restore()
        await asyncio.sleep(1)
    outage_ended = time.time()
    await asyncio.sleep(6)
    await cluster.stop([timekeeper])
    await settle(pg_engine)

    written_late = []
    for job in jobs:
        rows = await _rows_of(pg_engine, job.job_id)
        during = [row for row in rows if outage_started <= row[0] <= outage_ended]
        assert len(during) >= 10, f"slots during the outage not written: {len(during)}"
        assert all(count == 1 for _, _, count, _ in rows), "slots were coalesced because the broker was slow"
        written_late += [written - slot for slot, written, _, _ in during]
    worst = max(written_late)
    measured("broker_outage_slot_written_late_s", worst)
    # Written ahead of the slot (look-ahead) or within a pass or two of it, never a publish timeout late.
    assert worst < 1.0, f"a slot was written {worst:.2f} s after it was due"
    report = await history_report(pg_engine, jobs, [log])
    assert not report.lost, report
    assert not report.duplicated, report
    # Published together once the broker is back, a job's late slots meet each other: the first runs, the others
    # are skipped at max_instances (with the reason). None is missed or lost.
    assert set(report.outcomes) <= {"success", "skipped"}, report


async def _status(port: int, token: str) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"http://127.0.0.1:{port}/api/v1/scheduler/status", headers={"Authorization": f"Bearer {token}"}
        )
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


async def _live_pids(engine: AsyncEngine) -> dict[int, int]:
    """Live (not stopped) instance rows per process id."""
    async with create_sessionmaker(engine)() as session:
        rows = (
            await session.execute(
                select(SchedulerInstance.process_id, func.count())
                .where(SchedulerInstance.status != InstanceStatus.STOPPED)
                .group_by(SchedulerInstance.process_id)
            )
        ).all()
    return {pid: count for pid, count in rows}  # noqa: C416 (typed Row pairs)


@pytest.mark.timeout(90)
async def test_after_a_database_outage_of_everyone_no_run_failed_no_executor_died_and_status_lists_each_process_once(
    pg_engine: AsyncEngine, cluster: Cluster, tmp_path: Path
) -> None:
    """PostgreSQL cut for every process at once for 6 s (three times the instance timeout of the fault settings;
    the leases, 15 s here, outlast it, as the 90-s default outlasts a managed failover): runs are late, none is
    failed; no executor exits; tasks that finished during the outage have their outcomes written when it ends;
    and within two heartbeats after it, /status lists every live process exactly once (nobody was declared
    dead: every sweeper restarted its observation when it regained the database)."""
    log = tmp_path / "activity.log"
    env = {"SCHEDULER_LOCK_TTL": "15"}
    api = (await cluster.start("api", linked=True, env=env))[0]
    timekeepers = await cluster.timekeepers(2, linked=True, env=env)
    executors = await cluster.executors(2, linked=True, env=env)
    job = await create_job(
        pg_engine, task="work", interval_seconds=1, first_in=0.3, max_instances=2, tracks_starts=False,
        parameters={"log": str(log), "seconds": 2.0, "tick": TICK_S},
    )  # fmt: skip
    await asyncio.sleep(4)
    for link in cluster.database_links():
        link.cut()
    await asyncio.sleep(6)
    for link in cluster.database_links():
        link.restore()
    restored = time.monotonic()
    everyone = [api, *timekeepers, *executors]

    token = service_token()

    async def each_live_once() -> dict[str, object] | None:
        """/status, once it lists every process live, each exactly once, and no other process live."""
        status = await _status(api.port, token)
        live = [i for i in status["instances"] if isinstance(i, dict) and i["isLive"]]  # type: ignore[attr-defined]
        rows = await _live_pids(pg_engine)
        consistent = sorted(i["processId"] for i in live) == sorted(p.pid for p in everyone)
        return status if consistent and all(rows.get(p.pid) == 1 for p in everyone) else None

    status = await eventually(each_live_once, 15, "/status to list every process live, once")
    consistent_after = time.monotonic() - restored
    measured("outage_status_consistent_after_s", consistent_after)
    # Two heartbeats (0.5 s each with the fault settings), and the slack of a loaded machine.
    assert consistent_after <= 2 * 0.5 + 2.0, f"/status was consistent only {consistent_after:.2f} s after"
    live_ids = {i["id"] for i in status["instances"] if isinstance(i, dict) and i["isLive"]}  # type: ignore[attr-defined]
    assert status["instanceId"] in live_ids, "the api's own instance is missing from its own list"
    await asyncio.sleep(3)
    await cluster.stop(timekeepers)
    await settle(pg_engine)

    assert all(p.process.returncode is None for p in executors), cluster.tails()
    rows = await executions(pg_engine, job.job_id)
    failed = [r.error_message for r in rows if r.status_id == ExecutionStatus.FAILED]
    assert failed == [], failed
    activity = read_activity(log)
    assert all(run.ended for run in activity.values()), "a task was stopped by the outage"
    assert all(r.status_id == ExecutionStatus.SUCCESS for r in rows if r.execution_id in activity)
    assert longest_overlap(activity, {job.job_id: 2}) == 0.0
    report = await history_report(pg_engine, [job], [])
    assert not report.lost, report
    assert not report.duplicated, report


@pytest.mark.timeout(60)
async def test_a_frozen_executor_sits_on_few_runs_and_hands_them_back_when_the_broker_drops_it(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    """An executor frozen while many runs are due holds at most its prefetch window of messages (8 x 16 runs)
    unstarted, and RabbitMQ requeues them once it misses two AMQP heartbeats (1 s here): the other executor runs
    them late by seconds, none lost or run twice."""
    log = tmp_path / "starts.log"
    [victim] = await cluster.executors(1, env={"SCHEDULER_AMQP_HEARTBEAT": "1"})
    await local.start_executor()
    jobs = [
        await create_job(pg_engine, interval_seconds=2, first_in=1.0, parameters={"log": str(log)}) for _ in range(30)
    ]
    await local.start_timekeeper()
    await asyncio.sleep(3)
    victim.kill(signal.SIGSTOP)
    frozen_at = time.time()
    await asyncio.sleep(8)
    victim.kill(signal.SIGCONT)
    await asyncio.sleep(3)
    await local.timekeepers[0].stop()
    await settle(pg_engine)

    report = await history_report(pg_engine, jobs, [log])
    assert not report.lost, report
    assert not report.duplicated, report
    starts = {line.split()[0]: float(line.split()[3]) for line in log.read_text().splitlines()}
    late = [
        starts[r.execution_id] - r.scheduled_at.timestamp()
        for r in await executions(pg_engine)
        if r.execution_id in starts and r.scheduled_at.timestamp() >= frozen_at
    ]
    worst = max(late)
    measured("frozen_executor_worst_lateness_s", worst)
    assert worst < 2 * 1 + 3.0, f"a run waited {worst:.2f} s for the frozen executor to let it go"

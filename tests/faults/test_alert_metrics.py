"""The metrics the alert rules of deploy/observability/ read move when the fault each rule is about happens to a
real process (`python -m scheduler_cli <role>`):

- SchedulerExecutorLost, SchedulerNoLiveExecutor: an executor SIGKILLed. The sweeping timekeeper's
  `scheduler_instances_lost_total{role="executor"}` goes 0 -> 1, the api's `scheduler_instances_live{role="executor"}`
  1 -> 0.
- SchedulerTimekeeperLagging, SchedulerNoLiveTimekeeper: the only timekeeper paused (SIGSTOP), then resumed. The api's
  `scheduler_timekeeper_lag_seconds` grows, then falls back; `scheduler_instances_live{role="timekeeper"}` 1 -> 0 -> 1.
- SchedulerQueueBacklog, SchedulerRunsMissed: no executor running, the timekeeper going on. The api's
  `scheduler_queue_depth` (and the broker's ready messages) grows, back to about 0 once an executor starts; the
  timekeeper's `scheduler_missed_runs_total` grows.
- SchedulerQueueStale: the only executor's one slot held by a long task. The api's `scheduler_queue_age_seconds`
  grows, back to 0 once the slot is free.
- SchedulerJobFailing: a job whose task raises. The executor's `scheduler_job_runs_total{job_id,status="failed"}`
  grows for that job only.
- SchedulerStateUnreported: the api cut off from the database. `scheduler_instances_live` leaves the api's /metrics,
  and comes back with the link.

The process that suffers the fault is a real one; the observers (an api reading the state on scrape, a timekeeper
sweeping) run in this process where they only watch, as in the other scenarios (a process takes seconds to
start on this machine), and are scraped over HTTP or read from their registry.

SchedulerNotificationsFailing reads `scheduler_notification_deliveries_total{outcome}`, which the notification
delivery worker exports: its scenario belongs with it."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.cluster import (
    Cluster,
    create_job,
    db_now,
    eventually,
    prometheus_samples,
    scrape_metrics,
    scrape_port,
)
from tests.support.pipeline import Pipeline, Running
from tests.support.processes import RoleProcess, service_token

API = "/api/v1/scheduler"
# Seconds to wait for a series to move. The bounds come from the fault settings (instance_timeout 2, heartbeat
# 0.5, sweep 0.5: a killed executor is declared dead within 5.5 s), plus a loaded machine's slack.
MOVES_WITHIN_S = 12.0
LIVE_EXECUTOR = 'scheduler_instances_live{role="executor"}'
LIVE_TIMEKEEPER = 'scheduler_instances_live{role="timekeeper"}'

Samples = Callable[[], Awaitable[dict[str, float]]]


def of_process(process: RoleProcess) -> Samples:
    return lambda: scrape_metrics(process)


def of_port(port: int) -> Samples:
    return lambda: scrape_port(port)


def of_local(role: Running) -> Samples:
    async def read() -> dict[str, float]:
        return prometheus_samples(role.metrics.render().decode())

    return read


async def until(samples: Samples, name: str, holds: Callable[[float], bool], what: str) -> float:
    """The sample `name` (with its labels, as exposed) once `holds` is true of it."""

    async def probe() -> float | None:
        value = (await samples()).get(name)
        return value if value is not None and holds(value) else None

    return await eventually(probe, MOVES_WITHIN_S, f"{name} {what}")


@pytest.mark.timeout(60)
async def test_a_killed_executor_is_counted_lost_and_leaves_no_live_executor(cluster: Cluster, local: Pipeline) -> None:
    api, sweeper = of_port(await local.start_api()), await local.start_timekeeper()
    [executor] = await cluster.executors(1)
    await until(api, LIVE_EXECUTOR, lambda v: v == 1, "== 1")
    lost = 'scheduler_instances_lost_total{role="executor"}'
    # The series exists at 0 before any loss: increase() over it sees the first one.
    assert (await of_local(sweeper)())[lost] == 0.0

    executor.kill(signal.SIGKILL)

    await until(api, LIVE_EXECUTOR, lambda v: v == 0, "== 0")
    await until(of_local(sweeper), lost, lambda v: v == 1, "== 1")
    assert (await of_local(sweeper)())['scheduler_instances_lost_total{role="api"}'] == 0.0


@pytest.mark.timeout(60)
async def test_a_paused_timekeeper_falls_behind_and_stops_counting_live_then_catches_up(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    api = of_port(await local.start_api())
    [timekeeper] = await cluster.timekeepers(1)
    await create_job(pg_engine, first_in=0.5, parameters={"log": str(tmp_path / "starts.log")})
    await until(api, LIVE_TIMEKEEPER, lambda v: v == 1, "== 1")
    await until(api, "scheduler_timekeeper_lag_seconds", lambda v: v < 1, "< 1")  # taken on time

    timekeeper.kill(signal.SIGSTOP)
    try:
        # The 1-s job's slots pass with nobody to take them: the lag grows by a second a second.
        await until(api, "scheduler_timekeeper_lag_seconds", lambda v: v >= 3, ">= 3")
        await until(api, LIVE_TIMEKEEPER, lambda v: v == 0, "== 0")
    finally:
        timekeeper.kill(signal.SIGCONT)

    await until(api, "scheduler_timekeeper_lag_seconds", lambda v: v < 1, "< 1 again")
    await until(api, LIVE_TIMEKEEPER, lambda v: v == 1, "== 1 again")


@pytest.mark.timeout(60)
async def test_with_no_executor_runs_pile_up_and_are_missed_until_one_starts(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    log = str(tmp_path / "starts.log")
    port = await local.start_api()
    api = of_port(port)
    [timekeeper] = await cluster.timekeepers(1)
    assert (await scrape_metrics(timekeeper))["scheduler_missed_runs_total"] == 0.0
    assert (await api())[LIVE_EXECUTOR] == 0  # no executor runs (scaled to zero, or every one down)
    # Runs without a grace time wait for an executor however long (a backfill's); scheduled runs with a
    # 1-second grace are recorded missed by the sweep.
    backfilled = await create_job(pg_engine, first_in=3600, max_instances=50, parameters={"log": log})
    await create_job(pg_engine, first_in=0.5, misfire_grace_time=1, parameters={"log": log})
    now = await db_now(pg_engine)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        response = await client.post(
            f"{API}/jobs/{backfilled.job_id}/backfill",
            json={"from": (now - timedelta(seconds=30)).isoformat(), "to": (now - timedelta(seconds=1)).isoformat()},
            headers={"Authorization": f"Bearer {service_token()}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["created"] >= 25

    await until(api, "scheduler_queue_depth", lambda v: v >= 25, ">= 25")
    await until(api, "scheduler_queue_messages_ready", lambda v: v >= 1, ">= 1")  # relayed, not consumed
    await until(of_process(timekeeper), "scheduler_missed_runs_total", lambda v: v >= 1, ">= 1")

    await local.start_executor()
    # The backfilled runs are taken; the 1-s job's next run may be due this instant, never for long.
    await until(api, "scheduler_queue_depth", lambda v: v <= 1, "<= 1")


@pytest.mark.timeout(60)
async def test_runs_age_while_the_only_executor_slot_is_held_and_not_after(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    log, hold = str(tmp_path / "starts.log"), tmp_path / "hold"
    hold.touch()
    api = of_port(await local.start_api())
    await local.start_timekeeper()
    await cluster.executors(1, env={"SCHEDULER_EXECUTOR_CONCURRENCY": "1"})
    # One run that holds the executor's only slot, and a 1-s job whose runs wait for it (a long grace time: they
    # are late, not missed).
    await create_job(pg_engine, interval_seconds=3600, first_in=0.2, parameters={"log": log, "hold_while": str(hold)})
    await create_job(pg_engine, first_in=1.0, misfire_grace_time=3600, parameters={"log": log})

    await until(api, "scheduler_queue_age_seconds", lambda v: v >= 3, ">= 3")
    hold.unlink()
    await until(api, "scheduler_queue_age_seconds", lambda v: v < 1, "< 1")


@pytest.mark.timeout(60)
async def test_a_failing_task_raises_its_jobs_failure_series_only(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    log = str(tmp_path / "starts.log")
    await local.start_timekeeper()
    [executor] = await cluster.executors(1)
    failing = await create_job(pg_engine, task="crash", first_in=0.5, parameters={"log": log})
    healthy = await create_job(pg_engine, first_in=0.5, parameters={"log": log})

    failed = f'scheduler_job_runs_total{{job_id="{failing.job_id}",status="failed"}}'
    succeeded = f'scheduler_job_runs_total{{job_id="{healthy.job_id}",status="success"}}'
    await until(of_process(executor), failed, lambda v: v >= 3, ">= 3")
    await until(of_process(executor), succeeded, lambda v: v >= 3, ">= 3")
    samples = await scrape_metrics(executor)
    # The rule's ratio, failed / (failed + succeeded), per job: 1 for the failing job, 0 for the healthy one.
    assert f'scheduler_job_runs_total{{job_id="{failing.job_id}",status="success"}}' not in samples
    assert f'scheduler_job_runs_total{{job_id="{healthy.job_id}",status="failed"}}' not in samples
    assert samples['scheduler_runs_total{status="failed"}'] >= samples[failed]


@pytest.mark.timeout(60)
async def test_an_api_cut_off_from_the_database_stops_reporting_the_state(cluster: Cluster) -> None:
    [process] = await cluster.start("api", linked=True)
    api = of_process(process)
    await until(api, LIVE_TIMEKEEPER, lambda v: v == 0, "== 0")  # reported, at 0: none runs

    [link] = cluster.database_links([process])
    link.cut()
    try:

        async def state_gone() -> bool | None:
            samples = await api()
            assert samples["scheduler_missed_runs_total"] == 0.0  # the rest of the page is served
            return True if LIVE_TIMEKEEPER not in samples else None

        await eventually(state_gone, MOVES_WITHIN_S, "the state to leave the api's /metrics")
    finally:
        link.restore()
    await until(api, LIVE_TIMEKEEPER, lambda v: v == 0, "== 0 again")

"""Retries under executor kills (issue 18): jobs that opt into retries run on executors that a seeded schedule
SIGKILLs and restarts. A run lost with its executor is failed ("executor lost") and retried on another; the
checker (tests/faults/checker.py) reads every slot's attempts as one chain: each slot ends in exactly one final
outcome, and no attempt's task starts twice (from the tasks' own start log)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, ScheduledJob
from tests.faults.history import history_report
from tests.support.cluster import Cluster, create_job, executions, next_run_times, settle
from tests.support.measurements import measured
from tests.support.pipeline import Pipeline

# The seed of the kill schedule: FAULT_SEED replays a run; printed with every failure.
SEED = int(os.environ.get("FAULT_SEED", "18"))
KILLS = 4
WINDOW_S = 24.0  # seconds of kills and restarts
# Executors run with a long lease: a killed one's run can only be failed on the evidence of its vanished presence.
EXECUTOR_ENV = {"SCHEDULER_LOCK_TTL": "60"}


@pytest.mark.timeout(150)
async def test_runs_lost_with_killed_executors_are_retried_and_every_slot_ends_once(
    pg_engine: AsyncEngine, cluster: Cluster, local: Pipeline, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    log = tmp_path / "starts.log"
    await cluster.executors(3, env=EXECUTOR_ENV)
    jobs = [
        await create_job(
            pg_engine,
            interval_seconds=period,
            first_in=1.0,
            max_instances=1,
            misfire_grace_time=60,
            max_retries=3,
            retry_delay_seconds=1,
            retry_backoff_factor=1.5,
            overlap_policy=policy,
            parameters={"log": str(log), "seconds": seconds},
        )
        for period, seconds, policy in ((2, 1.5, "skip"), (3, 2.5, "queue"), (1, 0.4, "skip"))
    ]
    await local.start_timekeeper()
    local.wake()

    started = time.monotonic()
    kill_at = sorted(rng.uniform(2.0, WINDOW_S - 4.0) for _ in range(KILLS))
    killed = 0
    for at in kill_at:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        alive = [p for p in cluster.of_role("executor") if p.process.returncode is None]
        victim = rng.choice(alive)
        victim.kill(signal.SIGKILL)
        killed += 1
        await cluster.executors(1, env=EXECUTOR_ENV)  # its replacement
    await asyncio.sleep(max(0.0, WINDOW_S - (time.monotonic() - started)))
    # No new slots from here; the timekeeper keeps running, for the retries and queued runs it still releases.
    windows = await next_run_times(pg_engine)
    async with create_sessionmaker(pg_engine).begin() as session:
        await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id.in_([j.job_id for j in jobs]))
            .values(is_paused=True, next_run_at=None)
        )
    await settle(pg_engine, timeout=60)
    await local.timekeepers[0].stop()
    report = await history_report(pg_engine, jobs, [log], until=windows)

    rows = await executions(pg_engine)
    retried = [r for r in rows if r.attempt > 1]
    lost_then_retried = [
        r for r in rows if r.retried_by is not None and (r.error_message or "").startswith("executor lost")
    ]
    measured("retries_after_kills", len(retried))
    context = f"seed {SEED} (replay: FAULT_SEED={SEED}), kills at {[round(t, 1) for t in kill_at]}\n{report}"
    assert killed == KILLS
    assert not report.lost, context
    assert not report.duplicated, context
    assert not report.unexpected, context
    assert lost_then_retried, f"no run lost with its executor was retried: {context}"
    assert all(r.status_id != ExecutionStatus.WAITING for r in rows), context

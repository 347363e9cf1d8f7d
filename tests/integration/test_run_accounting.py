"""Logs and metrics agree with the history (issue 20), on real PostgreSQL and RabbitMQ with the roles in this
process: every outcome recorded is counted once in scheduler_runs_total under its status, whoever records it (the
executor, the timekeeper's pass, its sweep), scheduler_missed_runs_total equals runs_total{status="missed"}, and
the log line of a run the executor did not start names the run's job."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from scheduler_core.observability.metrics import Metrics
from scheduler_core.store.models import ExecutionStatus
from tests.support.cluster import create_job, db_now, executions, register_test_tasks, settle
from tests.support.pipeline import pipeline
from tests.support.rabbit import RabbitAdmin

# Seconds the roles run before they are stopped: a few slots of each 1-s job.
RUN_FOR_S = 4.0
TERMINAL = [status for status in ExecutionStatus if status.is_terminal]


def counted(metrics: list[Metrics]) -> Counter[str]:
    """scheduler_runs_total by status, summed over the processes' registries (as Prometheus sums them)."""
    totals: Counter[str] = Counter()
    for registry in (m.registry for m in metrics):
        for status in TERMINAL:
            value = registry.get_sample_value("scheduler_runs_total", {"status": status.name.lower()})
            totals[status.name.lower()] += int(value or 0)
    return totals


def missed_total(metrics: list[Metrics]) -> int:
    return sum(int(m.registry.get_sample_value("scheduler_missed_runs_total") or 0) for m in metrics)


async def recorded(engine: AsyncEngine) -> Counter[str]:
    return Counter(ExecutionStatus(row.status_id).name.lower() for row in await executions(engine))


async def test_every_outcome_is_counted_once_under_its_status_and_skips_name_their_job(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    await register_test_tasks(pg_engine)
    log = str(tmp_path / "starts.log")
    now = await db_now(pg_engine)
    # Runs 2.5 s each, a slot a second, one at a time: the slots in between are skipped at the claim.
    overlapping = await create_job(pg_engine, parameters={"log": log, "seconds": 2.5}, max_instances=1)
    # Slots 20 s late when the first pass reaches them, with no grace: recorded missed by the pass.
    late = await create_job(pg_engine, first_slot=now - timedelta(seconds=20), misfire_grace_time=0, coalesce=False)
    await create_job(pg_engine, task="crash", parameters={"log": log, "message": "on purpose"})
    await create_job(pg_engine, parameters={"log": log})

    async with pipeline(postgres_url, rabbit.broker_factory()) as built:
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            timekeeper = await built.start_timekeeper()
            executor = await built.start_executor()
            await asyncio.sleep(RUN_FOR_S)
            await timekeeper.stop()
            await settle(pg_engine)
        await executor.stop()
        metrics = [timekeeper.metrics, executor.metrics]

        history = await recorded(pg_engine)
        assert history["missed"] >= 1, f"the late job's slots: {history}"
        assert history["skipped"] >= 1, f"the overlapping job's slots: {history}"
        assert history["failed"] >= 1, history
        assert history["success"] >= 1, history
        assert counted(metrics) == history, "each recorded outcome counted once, under its status"
        assert missed_total(metrics) == history["missed"]
        missed_jobs = {row.job_id for row in await executions(pg_engine) if row.status_id == ExecutionStatus.MISSED}
        assert missed_jobs == {late.job_id}

    skipped = [entry for entry in logs if entry["event"] == "run_skipped"]
    assert len(skipped) == history["skipped"]
    assert {entry["job_id"] for entry in skipped} == {overlapping.job_id}, "the job of the run, never None"
    assert all(entry["execution_id"] for entry in skipped)


async def test_runs_the_sweep_records_missed_are_counted_as_missed(
    pg_engine: AsyncEngine, postgres_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    await register_test_tasks(pg_engine)
    # No executor consumes: its runs stay pending until the sweep records them missed, a second past their slot.
    await create_job(pg_engine, parameters={"log": str(tmp_path / "starts.log")}, misfire_grace_time=1)

    async with pipeline(postgres_url, rabbit.broker_factory()) as built:
        timekeeper = await built.start_timekeeper()
        await asyncio.sleep(RUN_FOR_S)
        await timekeeper.stop()

        history = await recorded(pg_engine)
        assert history["missed"] >= 1, history
        assert counted([timekeeper.metrics]) == Counter({"missed": history["missed"]})
        assert missed_total([timekeeper.metrics]) == history["missed"]

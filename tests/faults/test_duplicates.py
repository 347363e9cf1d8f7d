"""A message delivered several times starts its task once (guarantee 3): every run's message is injected three
times, back to back, by raw publishes onto the queue two executor processes consume, so that copies reach both
executors at once and their claims race in the database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.broker import RunMessage
from scheduler_core.store import NewExecution
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus
from tests.faults.checker import ExpectedJob, check, read_starts, records_of
from tests.support.cluster import Cluster, create_job, eventually, executions, scrape_metrics, settle
from tests.support.measurements import measured
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_of

RUNS = 20
COPIES = 3


@pytest.mark.timeout(45)
async def test_each_message_injected_three_times_starts_its_task_once(
    pg_engine: AsyncEngine, cluster: Cluster, rabbit: RabbitAdmin, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    executors = await cluster.executors(2)
    # A job no timekeeper serves (none runs here, and its next slot is an hour away): its past slots are written
    # by hand, as pending scheduled runs, and only the injected messages can start them.
    job = await create_job(pg_engine, first_in=3600, max_instances=RUNS, parameters={"log": str(log)})
    async with create_sessionmaker(pg_engine).begin() as session:
        first = await store_of(session).clock.now(session) - timedelta(seconds=RUNS)
        slots = [first + timedelta(seconds=i) for i in range(RUNS)]
        rows = [NewExecution(str(uuid.uuid4()), job.job_id, slot) for slot in slots]
        assert len(await store_of(session).outbox.add(session, rows)) == RUNS

    for row in rows:
        body = RunMessage(row.execution_id, job.job_id, row.scheduled_at, priority=0).encode()
        for _ in range(COPIES):
            await rabbit.publish_raw(cluster.queue, body)
    await settle(pg_engine, strict=False)  # open runs are reported lost by the checker below

    async def duplicates_recognised() -> list[float] | None:
        """Per executor, once every copy was consumed and every extra copy recognised as a duplicate."""
        metrics = [await scrape_metrics(executor) for executor in executors]
        consumed = sum(m.get("scheduler_queue_consumed_total", 0) for m in metrics)
        duplicates = [m.get("scheduler_duplicate_deliveries_total", 0) for m in metrics]
        return duplicates if consumed >= RUNS * COPIES and sum(duplicates) >= RUNS * (COPIES - 1) else None

    expected = ExpectedJob(job.job_id, job.schedule, first, slots[-1])
    report = check([expected], records_of(await executions(pg_engine)), read_starts(log))
    assert not report.duplicated, report
    assert not report.lost, report
    duplicates = await eventually(duplicates_recognised, 20, "every extra copy to be recognised as a duplicate")
    print(f"{RUNS * COPIES} deliveries, duplicates recognised per executor: {duplicates}")
    measured("duplicate_copies_recognised", sum(duplicates))
    measured("duplicate_task_starts", len(read_starts(log)))
    assert not report.unexpected, report
    assert report.outcomes == {"success": RUNS}, report
    assert sum(duplicates) == RUNS * (COPIES - 1)
    # Both executors received copies: the dedup held across processes, not just within one.
    assert all(count > 0 for count in duplicates), duplicates
    assert {r.status_id for r in await executions(pg_engine)} == {ExecutionStatus.SUCCESS}

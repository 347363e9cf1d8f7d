"""History's contract (scheduler_core.store.history, HistoryStore), on PostgreSQL and on SQLite: runs listed
newest first in pages and filtered by status, the runs in progress and a job's open runs, and retention, which
deletes finished runs in batches and never a pending or running one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from scheduler_core.store import ExecutionFilters, NewExecution, Store
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, Trigger
from tests.contract.store.support import Maker, db_now
from tests.support.factories import interval_job, new_id


async def test_page_filters_by_status_and_pages(store: Store, sessionmaker: Maker) -> None:
    base = datetime(2030, 5, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        other = await interval_job(session, next_run_at=None)
        await store.outbox.add(
            session,
            [
                NewExecution(new_id(), job.id, base + timedelta(seconds=i), status_id=status)
                for i, status in enumerate([1, 5, 5, 1, 5])
            ]
            + [NewExecution(new_id(), other.id, base, status_id=5)],
        )
    async with sessionmaker() as session:
        missed = await store.history.page(session, ExecutionFilters(job_id=job.id, status_id=5), per_page=2)
        everything = await store.history.page(session, ExecutionFilters(), per_page=100)
    assert missed.total == 3
    assert len(missed.executions) == 2
    assert all(r.status_id == 5 for r in missed.executions)
    assert all(r.status.name == "missed" for r in missed.executions)  # loaded with its status
    assert everything.total == 6
    assert len(everything.executions) == 6


async def test_running_counts_and_retention_never_deletes_open_runs(store: Store, sessionmaker: Maker) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        rows = [
            NewExecution(new_id(), job.id, old + timedelta(seconds=i), status_id=status)
            for i, status in enumerate([1, 2, 3, 4, 5, 6, 3, 3])
        ]
        await store.outbox.add(session, rows)
        # created_at defaults to now; age them as if written in 2020.
        await session.execute(update(ScheduledJobExecution).values(created_at=old))
    async with sessionmaker() as session:
        assert await store.history.count_running(session) == 1
        assert [e.status_id for e in await store.history.running(session, 100)] == [2]
    deleted = []
    cutoff = await db_now(sessionmaker) - timedelta(days=30)
    while True:
        async with sessionmaker.begin() as session:
            n = await store.history.delete_before(session, cutoff, batch_size=2)
        if n == 0:
            break
        deleted.append(n)
    assert deleted == [2, 2, 2]
    async with sessionmaker() as session:
        left = await store.history.page(session, ExecutionFilters(job_id=job.id), per_page=20)
    assert left.total == 2
    assert sorted(e.status_id for e in left.executions) == [1, 2]


async def test_count_open_counts_a_jobs_pending_and_running_runs_only(store: Store, sessionmaker: Maker) -> None:
    base = datetime(2030, 5, 2, tzinfo=UTC)
    statuses = list(ExecutionStatus)  # pending, running, success, failed, missed, skipped
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        other = await interval_job(session, next_run_at=None)
        empty = await interval_job(session, next_run_at=None)
        await store.outbox.add(
            session,
            [NewExecution(new_id(), job.id, base + timedelta(seconds=i), status_id=s) for i, s in enumerate(statuses)]
            + [NewExecution(new_id(), job.id, base + timedelta(minutes=1), trigger=Trigger.MANUAL)]
            + [NewExecution(new_id(), other.id, base, status_id=ExecutionStatus.RUNNING)],
        )
    async with sessionmaker() as session:
        counts = [await store.history.count_open(session, job_id) for job_id in (job.id, other.id, empty.id)]
    # job: one pending and one running scheduled run, and a pending manual one; the finished ones do not count.
    assert counts == [3, 1, 0]

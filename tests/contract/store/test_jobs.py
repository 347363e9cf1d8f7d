"""The jobs contract (scheduler_core.store.jobs, JobStore), on PostgreSQL and on SQLite: jobs as the API edits
them, created with the schema's defaults and read back with their task function and job type, listed in pages,
updated, soft-deleted, counted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler_core.store import JobFilters, JobNotFound, Store
from scheduler_core.store.models import JobType
from tests.contract.store.support import Maker
from tests.support.factories import interval_job, task_function


async def test_a_created_job_reads_back_with_the_defaults_its_task_function_and_its_job_type(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, seconds=30)
    async with sessionmaker() as session:
        found = await store.jobs.get(session, job.id)
    assert found is not None
    assert found.task_function.key == "noop"
    assert found.job_type.name == "interval"
    assert (found.priority, found.max_instances, found.misfire_grace_time, found.coalesce) == (0, 1, 60, True)
    assert (found.is_enabled, found.is_active, found.is_primary, found.is_paused) == (
        True,
        True,
        False,
        False,
    )
    assert found.timezone == "UTC"
    assert found.created_at.tzinfo is not None


async def test_list_pages_and_filters_jobs(store: Store, sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        for i in range(5):
            await interval_job(session, next_run_at=None, task_function_id=task_id, is_enabled=i % 2 == 0)
        await interval_job(
            session,
            next_run_at=None,
            task_function_id=task_id,
            job_type_id=JobType.CRON,
            interval_seconds=None,
            cron_expression="* * * * *",
        )
    async with sessionmaker() as session:
        page1, total = await store.jobs.list(session, JobFilters(), page=1, per_page=4)
        page2, _ = await store.jobs.list(session, JobFilters(), page=2, per_page=4)
        enabled, enabled_total = await store.jobs.list(session, JobFilters(is_enabled=True), 1, 20)
        cron, cron_total = await store.jobs.list(session, JobFilters(job_type_id=JobType.CRON), 1, 20)
    assert total == 6
    assert len(page1) == 4
    assert len(page2) == 2
    assert {j.id for j in page1}.isdisjoint({j.id for j in page2})
    assert enabled_total == 4
    assert all(j.is_enabled for j in enabled)
    assert cron_total == 1
    assert cron[0].cron_expression == "* * * * *"


async def test_update_stamps_the_edit_and_soft_delete_hides_the_job_but_keeps_it(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=datetime(2030, 1, 1, tzinfo=UTC))
    async with sessionmaker.begin() as session:
        updated = await store.jobs.update(session, job.id, {"priority": 7, "updated_by_id": "u-1"})
    assert updated.priority == 7
    assert updated.updated_at is not None
    async with sessionmaker.begin() as session:
        deleted = await store.jobs.soft_delete(session, job.id)
    assert (deleted.is_active, deleted.next_run_at) == (False, None)
    async with sessionmaker() as session:
        assert await store.jobs.get(session, job.id) is None
        assert await store.jobs.get(session, job.id, include_deleted=True) is not None
        assert await store.jobs.lock(session, job.id) is None  # only an active job is locked for a change
        _, total = await store.jobs.list(session, JobFilters(), 1, 20)
    assert total == 0
    async with sessionmaker.begin() as session:
        with pytest.raises(JobNotFound):
            await store.jobs.update(session, job.id, {"priority": 1})


async def test_count_is_the_active_jobs_and_of_them_the_enabled(store: Store, sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        await interval_job(session, next_run_at=None)
        await interval_job(session, next_run_at=None, is_enabled=False)
        await interval_job(session, next_run_at=None, is_active=False)
    async with sessionmaker() as session:
        assert await store.jobs.count(session) == (2, 1)


async def test_the_last_run_is_bookkeeping_not_an_edit_and_a_tasks_primary_job_is_its_active_one(
    store: Store, sessionmaker: Maker
) -> None:
    fired = datetime(2030, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        job = await interval_job(session, next_run_at=None, task_function_id=task_id)
        await interval_job(session, next_run_at=None, task_function_id=task_id, is_primary=True, is_active=False)
        primary = await interval_job(session, next_run_at=None, task_function_id=task_id, is_primary=True)
    async with sessionmaker.begin() as session:
        await store.jobs.set_last_run_at(session, job.id, fired)
    async with sessionmaker() as session:
        found = await store.jobs.get(session, job.id)
        found_primary = await store.jobs.primary_for_task(session, task_id)
    assert found is not None
    assert (found.last_run_at, found.updated_at) == (fired, None)
    assert found_primary is not None
    assert found_primary.id == primary.id

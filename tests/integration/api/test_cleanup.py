"""History cleanup: finished executions older than retentionDays go, open runs and recent ones stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import NewExecution
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution
from tests.integration.api.support import API, TaskIds, create_job, interval_body
from tests.support.factories import new_id
from tests.support.stores import store_of


async def age_runs(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: int, runs: list[tuple[ExecutionStatus, int]]
) -> dict[str, tuple[ExecutionStatus, int]]:
    """Write runs of the job, each created `days` days ago; returns them by execution id."""
    written = {}
    async with sessionmaker.begin() as session:
        now = await store_of(session).clock.now(session)
        for index, (status, days) in enumerate(runs):
            execution_id = new_id()
            scheduled = now - timedelta(days=days, minutes=index)
            await store_of(session).outbox.add(
                session, [NewExecution(execution_id, job_id, scheduled, status_id=status)]
            )
            await session.execute(
                update(ScheduledJobExecution)
                .where(ScheduledJobExecution.execution_id == execution_id)
                .values(created_at=scheduled)
            )
            written[execution_id] = (status, days)
    return written


async def remaining(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set((await session.execute(select(ScheduledJobExecution.execution_id))).scalars())


async def test_cleanup_deletes_old_finished_runs_only(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    runs = await age_runs(
        sessionmaker,
        job["id"],
        [
            (ExecutionStatus.SUCCESS, 40),
            (ExecutionStatus.FAILED, 31),
            (ExecutionStatus.MISSED, 45),
            (ExecutionStatus.RUNNING, 50),  # never deleted, however old
            (ExecutionStatus.PENDING, 50),
            (ExecutionStatus.SUCCESS, 2),
        ],
    )

    response = await client.post(f"{API}/cleanup", json={"retentionDays": 30})

    assert response.status_code == 200
    assert response.json() == {
        "deletedCount": 3,
        "deletedAuditCount": 0,
        "message": "Cleaned up 3 execution records older than 30 days",
    }
    kept = {execution_id for execution_id, (status, days) in runs.items() if days < 30 or not status.is_terminal}
    assert await remaining(sessionmaker) == kept


async def test_cleanup_defaults_to_30_days(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await age_runs(sessionmaker, job["id"], [(ExecutionStatus.SUCCESS, 31), (ExecutionStatus.SUCCESS, 29)])

    without_body = (await client.post(f"{API}/cleanup")).json()
    empty_body = (await client.post(f"{API}/cleanup", json={})).json()

    assert without_body == {
        "deletedCount": 1,
        "deletedAuditCount": 0,
        "message": "Cleaned up 1 execution records older than 30 days",
    }
    assert empty_body["deletedCount"] == 0


async def test_cleanup_with_zero_days_deletes_every_finished_run(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await age_runs(sessionmaker, job["id"], [(ExecutionStatus.SUCCESS, 1), (ExecutionStatus.RUNNING, 1)])

    answer = (await client.post(f"{API}/cleanup", json={"retentionDays": 0})).json()

    assert answer["message"] == "Cleaned up 1 execution records older than 0 days"
    assert len(await remaining(sessionmaker)) == 1


@pytest.mark.parametrize("body", [{"retentionDays": -1}, {"retentionDays": "soon"}, {"days": 3}])
async def test_cleanup_refuses_bad_input(client: AsyncClient, body: dict[str, object]) -> None:
    response = await client.post(f"{API}/cleanup", json=body)

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] in {"retentionDays", "days"}

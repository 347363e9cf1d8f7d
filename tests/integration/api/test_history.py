"""Execution history, per job and across jobs: paged, newest first, filtered by status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import NewExecution
from scheduler_core.store.models import ExecutionStatus
from tests.integration.api.support import API, TaskIds, create_job, interval_body, parse_instant
from tests.support.factories import new_id
from tests.support.stores import store_of

# Every field of the reference's TypeScript `ScheduledJobExecution`, and ours.
REFERENCE_EXECUTION_FIELDS = {
    "id",
    "jobId",
    "executionId",
    "scheduledAt",
    "startedAt",
    "completedAt",
    "durationMs",
    "statusId",
    "statusName",
    "errorMessage",
    "resultSummary",
    "executorId",
    "hostName",
}
OUR_EXECUTION_FIELDS = {
    "errorTraceback",
    "trigger",
    "coalescedCount",
    "coalescedFrom",
    "createdAt",
    # run control (issue 18)
    "attempt",
    "firstExecutionId",
    "retriedBy",
    "claimedAt",
    "queuedAt",
    "releaseAt",
    "rerunOf",
    "cancelRequestedAt",
    "cancelledBy",
}

START = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)


async def write_runs(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: int, statuses: list[ExecutionStatus]
) -> list[str]:
    """Runs of a job one minute apart, in the given statuses (oldest first); returns their execution ids."""
    rows = [
        NewExecution(
            execution_id=new_id(),
            job_id=job_id,
            scheduled_at=START + timedelta(minutes=index),
            status_id=status,
            error_message="missed: picked up late" if status is ExecutionStatus.MISSED else None,
            completed_at=START + timedelta(minutes=index, seconds=5) if status.is_terminal else None,
        )
        for index, status in enumerate(statuses)
    ]
    async with sessionmaker.begin() as session:
        written = await store_of(session).outbox.add(session, rows)
    assert len(written) == len(rows)
    return [row.execution_id for row in rows]


async def test_job_history_is_paged_newest_first(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    ids = await write_runs(sessionmaker, job["id"], [ExecutionStatus.SUCCESS] * 5)

    first = (await client.get(f"{API}/jobs/{job['id']}/history", params={"per_page": 2})).json()
    last = (await client.get(f"{API}/jobs/{job['id']}/history", params={"per_page": 2, "page": 3})).json()

    assert set(first) == {"items", "total", "page", "perPage", "totalPages"}
    assert [run["executionId"] for run in first["items"]] == ids[::-1][:2]
    assert (first["total"], first["page"], first["perPage"], first["totalPages"]) == (5, 1, 2, 3)
    assert [run["executionId"] for run in last["items"]] == ids[:1]


async def test_history_items_carry_the_reference_fields(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    [execution_id] = await write_runs(sessionmaker, job["id"], [ExecutionStatus.MISSED])

    [run] = (await client.get(f"{API}/jobs/{job['id']}/history")).json()["items"]

    assert set(run) == REFERENCE_EXECUTION_FIELDS | OUR_EXECUTION_FIELDS
    assert (run["jobId"], run["executionId"], run["statusId"], run["statusName"]) == (
        job["id"],
        execution_id,
        5,
        "missed",
    )
    assert parse_instant(run["scheduledAt"]) == START
    assert parse_instant(run["completedAt"]) == START + timedelta(seconds=5)
    assert (run["startedAt"], run["durationMs"], run["resultSummary"], run["errorTraceback"]) == (None,) * 4
    assert run["errorMessage"] == "missed: picked up late"
    assert (run["executorId"], run["hostName"], run["trigger"], run["coalescedCount"]) == ("", "", "schedule", 1)


async def test_history_filters_by_status(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    ids = await write_runs(
        sessionmaker, job["id"], [ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.SUCCESS]
    )

    page = (await client.get(f"{API}/jobs/{job['id']}/history", params={"status_id": 3})).json()
    failed = (await client.get(f"{API}/history", params={"status_id": 4})).json()

    assert [run["executionId"] for run in page["items"]] == [ids[2], ids[0]]
    assert page["total"] == 2
    assert [run["executionId"] for run in failed["items"]] == [ids[1]]


async def test_all_history_spans_jobs(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await create_job(client, interval_body(tasks.noop))
    second = await create_job(client, interval_body(tasks.noop))
    a = await write_runs(sessionmaker, first["id"], [ExecutionStatus.SUCCESS])
    b = await write_runs(sessionmaker, second["id"], [ExecutionStatus.FAILED, ExecutionStatus.PENDING])

    page = (await client.get(f"{API}/history")).json()

    assert [run["executionId"] for run in page["items"]] == [b[1], b[0], a[0]]
    assert [run["jobId"] for run in page["items"]] == [second["id"], second["id"], first["id"]]
    assert (page["total"], page["perPage"]) == (3, 20)


async def test_history_of_unknown_job_is_404(client: AsyncClient) -> None:
    response = await client.get(f"{API}/jobs/424242/history")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_a_deleted_job_keeps_its_history(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    ids = await write_runs(sessionmaker, job["id"], [ExecutionStatus.SUCCESS])
    await client.delete(f"{API}/jobs/{job['id']}")

    page = (await client.get(f"{API}/jobs/{job['id']}/history")).json()

    assert [run["executionId"] for run in page["items"]] == ids

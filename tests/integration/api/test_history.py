"""Execution history, per job and across jobs: newest slot first, paged by number or by cursor, filtered by job,
status, trigger and slot range; bad cursors and ranges refused naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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

    assert set(first) == {"items", "total", "page", "perPage", "totalPages"} | {"totalIsEstimate", "nextCursor"}
    assert [run["executionId"] for run in first["items"]] == ids[::-1][:2]
    assert (first["total"], first["page"], first["perPage"], first["totalPages"]) == (5, 1, 2, 3)
    assert (first["totalIsEstimate"], last["nextCursor"]) == (False, None)
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


async def test_a_cursor_chain_lists_every_run_once_with_its_page_numbers(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    ids = await write_runs(sessionmaker, job["id"], [ExecutionStatus.SUCCESS] * 7)
    pages = [(await client.get(f"{API}/jobs/{job['id']}/history", params={"per_page": 3})).json()]
    while pages[-1]["nextCursor"] is not None:
        params = {"per_page": 3, "cursor": pages[-1]["nextCursor"]}
        pages.append((await client.get(f"{API}/jobs/{job['id']}/history", params=params)).json())

    assert [run["executionId"] for page in pages for run in page["items"]] == ids[::-1]
    assert [(page["page"], page["totalPages"], page["total"]) for page in pages] == [(1, 3, 7), (2, 3, 7), (3, 3, 7)]
    # A page-number request also says where the next page starts.
    second = (await client.get(f"{API}/jobs/{job['id']}/history", params={"per_page": 3, "page": 2})).json()
    assert second["nextCursor"] == pages[1]["nextCursor"]


async def test_history_filters_by_job_trigger_and_slot_range(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await create_job(client, interval_body(tasks.noop))
    second = await create_job(client, interval_body(tasks.noop))
    a = await write_runs(sessionmaker, first["id"], [ExecutionStatus.SUCCESS] * 4)  # START + 0..3 minutes
    b = await write_runs(sessionmaker, second["id"], [ExecutionStatus.FAILED] * 2)
    triggered = await client.post(f"{API}/jobs/{second['id']}/action", json={"action": "trigger"})
    manual = triggered.json()["executionId"]  # a manual run, scheduled now: after every run above

    def listed(response: Any) -> list[str]:
        assert response.status_code == 200, response.text
        return [run["executionId"] for run in response.json()["items"]]

    of_first = listed(await client.get(f"{API}/history", params={"job_id": first["id"]}))
    scheduled = listed(await client.get(f"{API}/history", params={"trigger": "schedule"}))
    manuals = await client.get(f"{API}/history", params={"trigger": "manual"})
    window = {"from": (START + timedelta(minutes=1)).isoformat(), "to": (START + timedelta(minutes=3)).isoformat()}
    in_range = listed(await client.get(f"{API}/history", params=window))
    of_job_in_range = listed(await client.get(f"{API}/jobs/{second['id']}/history", params=window))

    assert of_first == a[::-1]
    assert scheduled == [a[3], a[2], b[1], a[1], b[0], a[0]]
    assert [(run["executionId"], run["trigger"]) for run in manuals.json()["items"]] == [(manual, "manual")]
    assert in_range == [a[2], b[1], a[1]]  # from inclusive, to exclusive
    assert of_job_in_range == [b[1]]


async def test_malformed_cursors_and_empty_ranges_are_refused_naming_the_parameter(
    client: AsyncClient, tasks: TaskIds
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    at = START.isoformat()
    cases = [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "12.34"}, "cursor"),
        ({"cursor": "1.2.0"}, "cursor"),  # pages count from 1
        ({"cursor": "1" * 18 + ".1.2"}, "cursor"),  # a slot past what a cursor holds
        ({"from": at, "to": at}, "to"),
        ({"from": at, "to": (START - timedelta(seconds=1)).isoformat()}, "to"),
        ({"from": "0"}, "from"),  # a number is no instant
        ({"to": "2030-01-01T00:00:00"}, "to"),  # no offset
        ({"trigger": "cron"}, "trigger"),
        ({"job_id": "0"}, "job_id"),
    ]
    for path in (f"{API}/history", f"{API}/jobs/{job['id']}/history"):
        for params, field in cases:
            if path != f"{API}/history" and field == "job_id":
                continue
            response = await client.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert [problem["field"] for problem in response.json()["fields"]] == [field], (params, response.text)


async def test_any_cursor_of_the_documented_form_is_a_place_to_start_from(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A cursor is a position in slot order, so one the API did not hand out is still a valid place to start."""
    job = await create_job(client, interval_body(tasks.noop))
    ids = await write_runs(sessionmaker, job["id"], [ExecutionStatus.SUCCESS] * 3)
    for cursor, page, expected in [("0.0.1", 1, []), ("99999999999999999.999999999999999999.42", 42, ids[::-1])]:
        response = await client.get(f"{API}/history", params={"cursor": cursor})
        assert response.status_code == 200, response.text
        assert ([run["executionId"] for run in response.json()["items"]], response.json()["page"]) == (expected, page)

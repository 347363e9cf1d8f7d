"""Job CRUD through the API, on PostgreSQL and SQLite: field names of the reference, nextRunAt from the
database clock, partial updates, soft delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.api.support import (
    API,
    SUBJECT,
    ScheduleChanges,
    TaskIds,
    create_job,
    cron_body,
    interval_body,
    parse_instant,
)
from tests.support.stores import store_of

# Every field of the reference's TypeScript `ScheduledJob` (optional ones may be null, never missing).
REFERENCE_JOB_FIELDS = {
    "id",
    "taskFunctionId",
    "taskFunctionKey",
    "jobTypeId",
    "jobTypeName",
    "nameEn",
    "nameAr",
    "descriptionEn",
    "descriptionAr",
    "cronExpression",
    "intervalSeconds",
    "intervalMinutes",
    "intervalHours",
    "intervalDays",
    "priority",
    "maxInstances",
    "misfireGraceTime",
    "coalesce",
    "isEnabled",
    "isActive",
    "isPrimary",
    "lastRunAt",
    "nextRunAt",
    "createdAt",
    "updatedAt",
}
OUR_JOB_FIELDS = {
    "timezone",
    "parameters",
    "timeoutSeconds",
    "isPaused",
    "scheduleDescription",
    "createdById",
    "updatedById",
    # run control (issue 18)
    "maxRetries",
    "retryDelaySeconds",
    "retryBackoffFactor",
    "retryMaxDelaySeconds",
    "overlapPolicy",
    "pauseAfterFailures",
    "consecutiveFailures",
    "pausedReason",
    # notifications (issue 19)
    "failingSince",
    "expectSuccessWithinSeconds",
    "successExpectedBy",
}
# Seconds of slack between the test's clock and the database's when checking computed instants.
CLOCK_SLACK = timedelta(seconds=5)


def assert_close(actual: datetime, expected: datetime) -> None:
    assert abs(actual - expected) <= CLOCK_SLACK, f"{actual} is not within {CLOCK_SLACK} of {expected}"


# --- create ----------------------------------------------------------------------------------------


async def test_create_interval_job_returns_the_reference_fields(
    client: AsyncClient, tasks: TaskIds, schedule_changes: ScheduleChanges
) -> None:
    body = {
        "taskFunctionId": tasks.noop,
        "nameEn": "HRIS Sync",
        "nameAr": "مزامنة الموارد البشرية",
        "intervalMinutes": 30,
        "priority": 5,
        "maxInstances": 1,
        "isEnabled": True,
    }
    before = datetime.now(UTC)
    job = await create_job(client, body)

    assert set(job) == REFERENCE_JOB_FIELDS | OUR_JOB_FIELDS
    assert job["taskFunctionId"] == tasks.noop
    assert job["taskFunctionKey"] == "noop"
    assert (job["jobTypeId"], job["jobTypeName"]) == (1, "interval")
    assert (job["nameEn"], job["nameAr"]) == ("HRIS Sync", "مزامنة الموارد البشرية")
    assert (job["intervalMinutes"], job["intervalSeconds"], job["cronExpression"]) == (30, None, None)
    assert (job["priority"], job["maxInstances"], job["misfireGraceTime"], job["coalesce"]) == (5, 1, 60, True)
    assert (job["isEnabled"], job["isActive"], job["isPrimary"], job["isPaused"]) == (True, True, False, False)
    assert job["timezone"] == "UTC"
    assert job["scheduleDescription"] == "every 30 minutes"
    assert job["createdById"] == SUBJECT
    assert job["lastRunAt"] is None
    assert job["createdAt"].endswith("Z") or job["createdAt"].endswith("+00:00")
    # The first run is one period after creation.
    assert_close(parse_instant(job["nextRunAt"]), before + timedelta(minutes=30))
    assert schedule_changes.calls == 1


async def test_create_cron_job_fires_on_the_wall_clock_of_its_zone(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.noop, timezone="Europe/Berlin"))

    assert (job["jobTypeId"], job["jobTypeName"]) == (2, "cron")
    assert (job["cronExpression"], job["timezone"]) == ("0 2 * * *", "Europe/Berlin")
    assert job["intervalMinutes"] is None
    assert job["scheduleDescription"] == "cron 0 2 * * * (Europe/Berlin)"
    next_run = parse_instant(job["nextRunAt"])
    local = next_run.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (2, 0)
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(days=1)


async def test_create_cron_job_defaults_to_utc(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.noop, cronExpression="  */5 * * * *  "))

    assert (job["cronExpression"], job["timezone"]) == ("*/5 * * * *", "UTC")
    assert parse_instant(job["nextRunAt"]).minute % 5 == 0


async def test_a_disabled_job_has_no_next_run(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, isEnabled=False))

    assert job["isEnabled"] is False
    assert job["nextRunAt"] is None


async def test_create_stores_parameters_and_timeout(client: AsyncClient, tasks: TaskIds) -> None:
    parameters = {"url": "https://example.com/hook", "method": "POST", "headers": {"X-Token": "t"}}
    job = await create_job(
        client,
        interval_body(tasks.http_request, parameters=parameters, timeoutSeconds=30, misfireGraceTime=0, coalesce=False),
    )

    assert job["parameters"] == parameters
    assert (job["timeoutSeconds"], job["misfireGraceTime"], job["coalesce"]) == (30, 0, False)
    fetched = (await client.get(f"{API}/jobs/{job['id']}")).json()
    assert fetched["parameters"] == parameters


async def test_interval_jobs_ignore_a_time_zone(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, timezone="Asia/Tokyo", intervalHours=1))

    assert job["timezone"] == "UTC"
    assert job["scheduleDescription"] == "every 1 h 30 min"


# --- list and get ----------------------------------------------------------------------------------


async def test_list_pages_jobs_by_id(client: AsyncClient, tasks: TaskIds) -> None:
    ids = [(await create_job(client, interval_body(tasks.noop)))["id"] for _ in range(3)]

    first = (await client.get(f"{API}/jobs", params={"page": 1, "per_page": 2})).json()
    second = (await client.get(f"{API}/jobs", params={"page": 2, "per_page": 2})).json()
    default = (await client.get(f"{API}/jobs")).json()

    assert set(first) == {"items", "total", "page", "perPage", "totalPages"}
    assert [job["id"] for job in first["items"]] == ids[:2]
    assert (first["total"], first["page"], first["perPage"], first["totalPages"]) == (3, 1, 2, 2)
    assert [job["id"] for job in second["items"]] == ids[2:]
    assert (default["perPage"], default["totalPages"], len(default["items"])) == (20, 1, 3)
    assert set(first["items"][0]) == REFERENCE_JOB_FIELDS | OUR_JOB_FIELDS


async def test_list_filters_by_enabled_and_type(client: AsyncClient, tasks: TaskIds) -> None:
    interval = await create_job(client, interval_body(tasks.noop))
    cron = await create_job(client, cron_body(tasks.noop))
    disabled = await create_job(client, interval_body(tasks.noop, isEnabled=False))

    async def ids(**params: str | int) -> list[int]:
        return [job["id"] for job in (await client.get(f"{API}/jobs", params=params)).json()["items"]]

    assert await ids(is_enabled="true") == [interval["id"], cron["id"]]
    assert await ids(is_enabled="false") == [disabled["id"]]
    assert await ids(job_type_id=2) == [cron["id"]]
    assert await ids(job_type_id=1, is_enabled="true") == [interval["id"]]


async def test_list_searches_names_in_either_language_in_any_case(client: AsyncClient, tasks: TaskIds) -> None:
    nightly = await create_job(client, interval_body(tasks.noop, nameEn="Nightly Export", nameAr="تصدير ليلي"))
    hourly = await create_job(client, interval_body(tasks.noop, nameEn="hourly sync 100%"))
    await create_job(client, interval_body(tasks.noop, nameEn="other"))

    async def ids(name: str) -> list[int]:
        response = await client.get(f"{API}/jobs", params={"name": name})
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["items"]]

    assert await ids("EXPORT") == [nightly["id"]]
    assert await ids("ليلي") == [nightly["id"]]
    assert await ids("100%") == [hourly["id"]]  # % is searched as written, not a wildcard
    assert await ids("_") == []
    empty = await client.get(f"{API}/jobs", params={"name": ""})
    assert empty.status_code == 422
    assert empty.json()["fields"][0]["field"] == "name"


async def test_an_empty_list_has_no_pages(client: AsyncClient) -> None:
    page = (await client.get(f"{API}/jobs")).json()
    assert page == {"items": [], "total": 0, "page": 1, "perPage": 20, "totalPages": 0}


async def test_get_job_returns_next_and_last_run(client: AsyncClient, tasks: TaskIds) -> None:
    created = await create_job(client, interval_body(tasks.noop))
    response = await client.get(f"{API}/jobs/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created
    assert "nextRunAt" in created
    assert "lastRunAt" in created


async def test_get_unknown_job_is_404(client: AsyncClient) -> None:
    response = await client.get(f"{API}/jobs/424242")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "job 424242 does not exist", "fields": []}


# --- update ----------------------------------------------------------------------------------------


async def test_partial_update_changes_only_the_fields_given(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, nameAr="اسم", priority=2))

    response = await client.put(f"{API}/jobs/{job['id']}", json={"priority": 10, "nameAr": None})

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["priority"], updated["nameAr"]) == (10, None)
    assert updated["nameEn"] == job["nameEn"]
    assert updated["nextRunAt"] == job["nextRunAt"]  # the schedule did not change
    assert updated["updatedById"] == SUBJECT
    assert updated["updatedAt"] is not None


async def test_a_schedule_change_recomputes_the_next_run(
    client: AsyncClient, tasks: TaskIds, schedule_changes: ScheduleChanges
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    calls = schedule_changes.calls

    before = datetime.now(UTC)
    updated = (await client.put(f"{API}/jobs/{job['id']}", json={"intervalMinutes": 60})).json()

    assert updated["intervalMinutes"] == 60
    assert_close(parse_instant(updated["nextRunAt"]), before + timedelta(minutes=60))
    assert updated["scheduleDescription"] == "every 1 hour"
    assert schedule_changes.calls == calls + 1


async def test_resending_the_same_schedule_keeps_the_next_run(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    updated = (await client.put(f"{API}/jobs/{job['id']}", json={"intervalMinutes": 30, "nameEn": "x"})).json()

    assert updated["nextRunAt"] == job["nextRunAt"]


async def test_switching_interval_to_cron_clears_the_interval(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, intervalHours=1))

    response = await client.put(
        f"{API}/jobs/{job['id']}", json={"cronExpression": "30 6 * * 1", "timezone": "America/New_York"}
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["jobTypeId"], updated["jobTypeName"]) == (2, "cron")
    assert [updated[f"interval{unit}"] for unit in ("Seconds", "Minutes", "Hours", "Days")] == [None] * 4
    assert (updated["cronExpression"], updated["timezone"]) == ("30 6 * * 1", "America/New_York")
    local = parse_instant(updated["nextRunAt"]).astimezone(ZoneInfo("America/New_York"))
    assert (local.weekday(), local.hour, local.minute) == (0, 6, 30)


async def test_switching_cron_to_interval_clears_the_cron_fields(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.noop, timezone="Europe/Paris"))

    updated = (await client.put(f"{API}/jobs/{job['id']}", json={"intervalSeconds": 90})).json()

    assert (updated["jobTypeId"], updated["jobTypeName"]) == (1, "interval")
    assert (updated["cronExpression"], updated["timezone"], updated["intervalSeconds"]) == (None, "UTC", 90)
    assert updated["scheduleDescription"] == "every 1 min 30 s"


async def test_changing_only_the_zone_of_a_cron_job_moves_its_next_run(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.noop))

    updated = (await client.put(f"{API}/jobs/{job['id']}", json={"timezone": "Asia/Tokyo"})).json()

    local = parse_instant(updated["nextRunAt"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (updated["timezone"], local.hour) == ("Asia/Tokyo", 2)


async def test_disabling_and_enabling_through_update(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    disabled = (await client.put(f"{API}/jobs/{job['id']}", json={"isEnabled": False})).json()
    before = datetime.now(UTC)
    enabled = (await client.put(f"{API}/jobs/{job['id']}", json={"isEnabled": True})).json()

    assert (disabled["isEnabled"], disabled["nextRunAt"]) == (False, None)
    assert enabled["isEnabled"] is True
    assert_close(parse_instant(enabled["nextRunAt"]), before + timedelta(minutes=30))


async def test_update_can_change_task_and_parameters(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await client.put(
        f"{API}/jobs/{job['id']}",
        json={"taskFunctionId": tasks.http_request, "parameters": {"url": "https://example.com"}},
    )

    assert response.status_code == 200, response.text
    assert (response.json()["taskFunctionKey"], response.json()["parameters"]) == (
        "http_request",
        {"url": "https://example.com"},
    )


async def test_update_unknown_job_is_404(client: AsyncClient) -> None:
    response = await client.put(f"{API}/jobs/424242", json={"priority": 1})

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- delete ----------------------------------------------------------------------------------------


async def test_delete_is_soft(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await client.delete(f"{API}/jobs/{job['id']}")

    assert response.status_code == 200
    deleted = response.json()
    assert (deleted["isActive"], deleted["nextRunAt"], deleted["updatedById"]) == (False, None, SUBJECT)
    assert (await client.get(f"{API}/jobs/{job['id']}")).status_code == 404
    assert (await client.get(f"{API}/jobs")).json()["total"] == 0
    assert (await client.delete(f"{API}/jobs/{job['id']}")).status_code == 404
    async with sessionmaker() as session:
        row = await store_of(session).jobs.get(session, job["id"], include_deleted=True)
    assert row is not None
    assert (row.is_active, row.next_run_at) == (False, None)


async def test_a_primary_job_cannot_be_deleted(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    async with sessionmaker.begin() as session:
        await store_of(session).jobs.update(session, job["id"], {"is_primary": True})

    response = await client.delete(f"{API}/jobs/{job['id']}")

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert "primary" in body["message"]
    assert (await client.get(f"{API}/jobs/{job['id']}")).json()["isActive"] is True


async def test_delete_unknown_job_is_404(client: AsyncClient) -> None:
    assert (await client.delete(f"{API}/jobs/424242")).status_code == 404


@pytest.mark.parametrize("field", ["isPrimary", "isActive", "isPaused", "jobTypeId", "nextRunAt"])
async def test_update_refuses_fields_the_api_does_not_set(client: AsyncClient, tasks: TaskIds, field: str) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await client.put(f"{API}/jobs/{job['id']}", json={field: True})

    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": field, "reason": "unknown field"}]
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


async def test_an_edit_form_sending_every_field_back_is_accepted_for_a_retired_task(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, interval_body(tasks.noop, priority=3))
    async with sessionmaker.begin() as session:  # the task's module was removed from every executor
        await store_of(session).jobs.update(session, job["id"], {"task_function_id": tasks.inactive})

    response = await client.put(
        f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.inactive, "priority": 3, "nameEn": "renamed"}
    )

    assert response.status_code == 200, response.text
    assert (response.json()["nameEn"], response.json()["taskFunctionKey"]) == ("renamed", "retired")

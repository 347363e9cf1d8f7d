"""Issue 16's table, one test per row, on PostgreSQL and SQLite: hostile input gets a 4xx naming the field, the API
keeps answering, and nothing is written (rows counted before and after)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.schemas.documents import MAX_DEPTH
from scheduler_core.store.models import ExecutionStatus, ScheduledJob, ScheduledJobExecution
from tests.integration.api.support import API, TaskIds, Tokens, api_settings, create_job, cron_body, interval_body
from tests.integration.api.support import open_client as open_app_client
from tests.integration.api.test_cleanup import age_runs
from tests.support.stores import store_of

Maker = async_sessionmaker[AsyncSession]


async def rows(sessionmaker: Maker) -> tuple[int, int]:
    """(jobs, executions) in the database, deleted jobs included."""
    async with sessionmaker() as session:
        jobs = (await session.execute(select(func.count()).select_from(ScheduledJob))).scalar_one()
        runs = (await session.execute(select(func.count()).select_from(ScheduledJobExecution))).scalar_one()
    return int(jobs), int(runs)


@pytest.fixture
def unchanged(sessionmaker: Maker) -> Callable[[Callable[[], Awaitable[Response]]], Awaitable[Response]]:
    """Sends a request and asserts it wrote nothing."""

    async def send(request: Callable[[], Awaitable[Response]]) -> Response:
        before = await rows(sessionmaker)
        response = await request()
        assert await rows(sessionmaker) == before, response.text
        return response

    return send


Unchanged = Callable[[Callable[[], Awaitable[Response]]], Awaitable[Response]]


def refused(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The JSON error body of a refusal, naming `field` (prefix match for deep paths)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "fields"}
    if field is not None:
        assert any(problem["field"].startswith(field) for problem in body["fields"]), body
        assert all(problem["reason"] for problem in body["fields"])
    return body


def raw_json(client: AsyncClient, method: str, path: str, text: str) -> Callable[[], Awaitable[Response]]:
    return lambda: client.request(
        method, f"{API}{path}", content=text.encode(), headers={"Content-Type": "application/json"}
    )


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


# --- row 1: deeply nested parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("levels", [MAX_DEPTH, 300, 900])
async def test_deeply_nested_parameters_are_refused_and_the_list_stays_up(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged, levels: int
) -> None:
    job = await create_job(client, interval_body(tasks.http_request, parameters={"url": "https://x.org"}))
    parameters = f'{{"url": "https://x.org", "json_body": {deep(levels)}}}'
    body = f'{{"taskFunctionId": {tasks.http_request}, "intervalMinutes": 5, "parameters": {parameters}}}'
    update = f'{{"parameters": {parameters}}}'

    created = await unchanged(raw_json(client, "POST", "/jobs", body))
    updated = await unchanged(raw_json(client, "PUT", f"/jobs/{job['id']}", update))

    for response in (created, updated):
        answer = refused(response, 422)
        # Deeper than the json module's own recursion limit (about 1,000 levels), the whole body is named.
        assert [problem["field"][:22] for problem in answer["fields"]] in (["parameters.json_body.a"], ["body"])
        assert answer["fields"][0]["reason"] == f"is nested more than {MAX_DEPTH} levels deep"
    listed = await client.get(f"{API}/jobs")
    assert (listed.status_code, listed.json()["total"]) == (200, 1)
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


async def test_parameters_as_deep_as_the_limit_allows_are_stored_and_read_back(
    client: AsyncClient, tasks: TaskIds
) -> None:
    # The body is level 1, parameters 2, json_body 3: json_body may hold MAX_DEPTH - 3 more levels.
    json_body = json.loads(deep(MAX_DEPTH - 3))
    job = await create_job(
        client, interval_body(tasks.http_request, parameters={"url": "https://x.org", "json_body": json_body})
    )

    assert (await client.get(f"{API}/jobs/{job['id']}")).json()["parameters"]["json_body"] == json_body
    assert (await client.get(f"{API}/jobs", params={"per_page": 100})).json()["items"][0]["id"] == job["id"]


# --- row 2: lone surrogates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "text", "field"),
    [
        ("/jobs", "POST", '{"taskFunctionId": 1, "intervalMinutes": 5, "nameEn": "x\\ud800y"}', "nameEn"),
        (
            "/jobs",
            "POST",
            '{"taskFunctionId": 1, "intervalMinutes": 5, "parameters": {"k": "\\udfff"}}',
            "parameters.k",
        ),
        ("/jobs", "POST", '{"taskFunctionId": 1, "intervalMinutes": 5, "parameters": {"\\ud800": 1}}', "parameters.?"),
        ("/jobs", "POST", '{"\\ud800x": 1, "taskFunctionId": 1, "intervalMinutes": 5}', "?x"),  # would be echoed
        ("/jobs/{id}", "PUT", '{"descriptionAr": "\\udbff"}', "descriptionAr"),
        ("/jobs/{id}/action", "POST", '{"action": "\\ud800"}', "action"),
        ("/schedule/preview", "POST", '{"cronExpression": "0 2 * * *", "timezone": "Europe/\\ud800"}', "timezone"),
        ("/cleanup", "POST", '{"retentionDays\\ud800": 1}', "retentionDays?"),
    ],
)
async def test_a_lone_surrogate_anywhere_is_a_422_naming_the_field(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged, path: str, method: str, text: str, field: str
) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await unchanged(raw_json(client, method, path.replace("{id}", str(job["id"])), text))

    answer = refused(response, 422, field)
    assert "lone UTF-16 surrogate" in answer["fields"][0]["reason"]
    response.content.decode("utf-8")  # the answer is UTF-8, the offending text replaced


# --- row 3: NaN, Infinity, 1e400 --------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
async def test_numbers_that_are_not_finite_are_refused_on_both_backends(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged, number: str
) -> None:
    job = await create_job(client, interval_body(tasks.sleep))
    create = f'{{"taskFunctionId": {tasks.sleep}, "intervalMinutes": 5, "parameters": {{"seconds": {number}}}}}'
    update = f'{{"parameters": {{"seconds": {number}}}}}'
    preview = f'{{"intervalSeconds": {number}}}'

    for method, path, text, field in (
        ("POST", "/jobs", create, "parameters.seconds"),
        ("PUT", f"/jobs/{job['id']}", update, "parameters.seconds"),
        ("POST", "/schedule/preview", preview, "intervalSeconds"),
    ):
        answer = refused(await unchanged(raw_json(client, method, path, text)), 422, field)
        assert answer["fields"][0]["reason"] == "must be a finite number (no NaN or Infinity)"
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


# --- row 4: cleanup with a boolean or a string -------------------------------------------------------------


@pytest.mark.parametrize("days", [False, True, "0", "30", 0.5, None, [0], {"days": 0}])
async def test_cleanup_with_anything_but_a_whole_number_deletes_nothing(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker, unchanged: Unchanged, days: Any
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await age_runs(sessionmaker, job["id"], [(ExecutionStatus.SUCCESS, 400), (ExecutionStatus.FAILED, 1)])

    response = await unchanged(lambda: client.post(f"{API}/cleanup", json={"retentionDays": days}))

    refused(response, 422, "retentionDays")


async def test_cleanup_with_a_whole_number_still_works(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await age_runs(sessionmaker, job["id"], [(ExecutionStatus.SUCCESS, 400), (ExecutionStatus.FAILED, 1)])

    response = await client.post(f"{API}/cleanup", json={"retentionDays": 30.0})  # JSON's integer 30

    assert (response.status_code, response.json()["deletedCount"]) == (200, 1)


# --- row 5: strict types everywhere -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"intervalSeconds": True}, "intervalSeconds"),
        ({"intervalMinutes": "60"}, "intervalMinutes"),
        ({"priority": True}, "priority"),
        ({"isEnabled": "no"}, "isEnabled"),
        ({"isEnabled": 0}, "isEnabled"),
        ({"coalesce": "true"}, "coalesce"),
        ({"maxInstances": 1.5}, "maxInstances"),
        ({"taskFunctionId": "1"}, "taskFunctionId"),
        ({"timeoutSeconds": False}, "timeoutSeconds"),
        ({"nameEn": 5}, "nameEn"),
        ({"parameters": "{}"}, "parameters"),
    ],
)
async def test_request_bodies_coerce_nothing(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged, change: dict[str, Any], field: str
) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    created = await unchanged(lambda: client.post(f"{API}/jobs", json=interval_body(tasks.noop) | change))
    updated = await unchanged(lambda: client.put(f"{API}/jobs/{job['id']}", json=change))

    refused(created, 422, field)
    refused(updated, 422, field)
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/jobs", {"is_enabled": "1"}, "is_enabled"),
        ("/jobs", {"is_enabled": "yes"}, "is_enabled"),
        ("/jobs", {"is_enabled": "True"}, "is_enabled"),
        ("/jobs", {"page": "+1"}, "page"),
        ("/jobs", {"per_page": "1_0"}, "per_page"),
        ("/jobs", {"job_type_id": " 1"}, "job_type_id"),
        ("/history", {"status_id": "1.5"}, "status_id"),
        ("/task-functions", {"include_inactive": "on"}, "include_inactive"),
        ("/jobs/01", {}, "job_id"),
        ("/jobs/1/preview", {"count": "5e0"}, "count"),
    ],
)
async def test_query_and_path_parameters_take_one_plain_spelling(
    client: AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    refused(await client.get(f"{API}{path}", params=params), 422, field)


async def test_plain_spellings_of_query_parameters_are_accepted(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    listed = await client.get(f"{API}/jobs", params={"is_enabled": "true", "page": "1", "per_page": "20.0"})
    inactive = await client.get(f"{API}/task-functions", params={"include_inactive": "false"})

    assert (listed.status_code, [item["id"] for item in listed.json()["items"]]) == (200, [job["id"]])
    assert inactive.status_code == 200


# --- row 6: body size and text lengths --------------------------------------------------------------------


async def test_a_body_over_the_limit_is_413_without_being_read(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged
) -> None:
    body = interval_body(tasks.noop, descriptionEn="x" * 2_000_000)

    answer = refused(await unchanged(lambda: client.post(f"{API}/jobs", json=body)), 413)

    assert answer["error"] == "request_too_large"
    assert "1048576 bytes" in answer["message"]


async def test_the_body_limit_is_a_setting_and_holds_for_a_chunked_body(
    database: Database, tokens: Tokens, tasks: TaskIds, sessionmaker: Maker
) -> None:
    app_settings = api_settings(max_request_body_bytes=2_048)
    app = create_app(app_settings, database, instance_id="00000000-0000-4000-8000-000000000002")
    big = json.dumps(interval_body(tasks.noop, descriptionEn="y" * 3_000)).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    before = await rows(sessionmaker)
    async with open_app_client(app, tokens.headers()) as client:
        declared = await client.post(f"{API}/jobs", content=big, headers={"Content-Type": "application/json"})
        chunked = await client.post(f"{API}/jobs", content=chunks(), headers={"Content-Type": "application/json"})
        small = await client.post(f"{API}/jobs", json=interval_body(tasks.noop))

    assert (declared.status_code, chunked.status_code, small.status_code) == (413, 413, 201)
    assert "2048 bytes" in chunked.json()["message"]
    assert (await rows(sessionmaker))[0] == before[0] + 1


@pytest.mark.parametrize(
    ("field", "length"),
    [("nameEn", 256), ("nameAr", 256), ("descriptionEn", 4_001), ("descriptionAr", 4_001), ("cronExpression", 101)],
)
async def test_every_text_field_has_a_length_limit(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged, field: str, length: int
) -> None:
    refused(
        await unchanged(lambda: client.post(f"{API}/jobs", json=interval_body(tasks.noop) | {field: "x" * length})),
        422,
        field,
    )


async def test_parameters_are_limited_to_64_kib(client: AsyncClient, tasks: TaskIds, unchanged: Unchanged) -> None:
    body = interval_body(tasks.http_request, parameters={"url": "https://x.org", "body": "z" * 70_000})

    answer = refused(await unchanged(lambda: client.post(f"{API}/jobs", json=body)), 422, "parameters")

    assert "at most 65536 bytes" in answer["fields"][0]["reason"]


# --- row 7: 405 with Allow -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/jobs/3", "DELETE, GET, PUT"),
        ("PUT", "/jobs", "GET, POST"),
        ("DELETE", "/jobs", "GET, POST"),
        ("OPTIONS", "/jobs", "GET, POST"),
        ("TRACE", "/jobs/1", "DELETE, GET, PUT"),
        ("GET", "/jobs/1/action", "POST"),
        ("PATCH", "/cleanup", "POST"),
    ],
)
async def test_a_method_a_path_does_not_take_is_405_with_allow_even_with_the_dashboard(
    database: Database, tokens: Tokens, tmp_path: Path, method: str, path: str, allow: str
) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>Scheduler</title>")
    for settings in (api_settings(), api_settings(dashboard_dir=tmp_path)):  # the dashboard mount used to 404 them
        app = create_app(settings, database, instance_id="00000000-0000-4000-8000-000000000003")
        async with open_app_client(app, tokens.headers()) as client:
            response = await client.request(method, f"{API}{path}")
        answer = refused(response, 405)
        assert response.headers["allow"] == allow
        assert answer["error"] == "method_not_allowed"


# --- row 8: timezone of an interval job ---------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus", "localtime", "", "posix/Europe/Berlin"])
async def test_an_interval_job_with_an_unknown_zone_is_refused(
    client: AsyncClient, tasks: TaskIds, unchanged: Unchanged, zone: str
) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    refused(
        await unchanged(lambda: client.post(f"{API}/jobs", json=interval_body(tasks.noop, timezone=zone))),
        422,
        "timezone",
    )
    refused(await unchanged(lambda: client.put(f"{API}/jobs/{job['id']}", json={"timezone": zone})), 422, "timezone")
    refused(
        await unchanged(lambda: client.post(f"{API}/schedule/preview", json={"intervalSeconds": 5, "timezone": zone})),
        422,
        "timezone",
    )
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


# --- row 9: the task of a primary job ----------------------------------------------------------------------


async def test_the_task_of_a_primary_job_cannot_change(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, cron_body(tasks.cleanup_history))
    async with sessionmaker.begin() as session:  # primary jobs are seeded, never created through the API
        await store_of(session).jobs.update(session, job["id"], {"is_primary": True})
    primary = (await client.get(f"{API}/jobs/{job['id']}")).json()

    changed = await client.put(f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.noop})
    resent = await client.put(
        f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.cleanup_history, "nameEn": "Cleanup"}
    )
    tuned = await client.put(f"{API}/jobs/{job['id']}", json={"parameters": {"retention_days": 7}})

    answer = refused(changed, 409)
    assert answer["error"] == "conflict"
    assert "primary job: its task cannot change" in answer["message"]
    assert (resent.status_code, resent.json()["nameEn"]) == (200, "Cleanup")  # an edit form sends it back unchanged
    assert (tuned.status_code, tuned.json()["parameters"]) == (200, {"retention_days": 7})
    after = (await client.get(f"{API}/jobs/{job['id']}")).json()
    assert (after["taskFunctionId"], after["taskFunctionKey"]) == (primary["taskFunctionId"], "cleanup_history")


# --- row 10: triggers beyond max_instances -------------------------------------------------------------------


async def test_a_trigger_beyond_max_instances_is_409_with_the_reason(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, interval_body(tasks.noop, maxInstances=2))

    answers = [await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"}) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200, 200, 409, 409, 409]
    message = refused(answers[2], 409)["message"]
    assert message == (
        f"job {job['id']} already has 2 run(s) pending or running, its max_instances (2): a run triggered now "
        "would be skipped; trigger it again once one has finished"
    )
    assert (await rows(sessionmaker))[1] == 2
    async with sessionmaker.begin() as session:  # one run finishes
        first = answers[0].json()["executionId"]
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == first)
            .values(status_id=ExecutionStatus.SUCCESS)
        )
    again = await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"})
    assert again.status_code == 200


async def test_concurrent_triggers_never_pass_max_instances(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, interval_body(tasks.noop, maxInstances=3))

    answers = await asyncio.gather(
        *(client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"}) for _ in range(12))
    )

    assert sorted(answer.status_code for answer in answers) == [200] * 3 + [409] * 9
    assert (await rows(sessionmaker))[1] == 3


# --- row 11: the schema states what the API enforces ---------------------------------------------------------


async def test_the_schema_states_the_schedule_and_the_deployments_limits(anonymous: AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    components = schema["components"]["schemas"]

    for name in ("ScheduledJobCreate", "SchedulePreviewRequest"):
        assert [variant["title"] for variant in components[name]["oneOf"]] == ["cron schedule", "interval schedule"]
    assert components["ScheduledJobCreate"]["properties"]["priority"]["maximum"] == 10  # SCHEDULER_MAX_PRIORITY
    assert components["CleanupRequest"]["properties"]["retentionDays"]["type"] == "integer"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)

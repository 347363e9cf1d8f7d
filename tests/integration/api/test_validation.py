"""Bad input: a 422 naming each field (camelCase) and the reason, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.integration.api.support import API, TaskIds, create_job, cron_body, interval_body

NOOP = -1  # placeholder for the noop task's id, which the database assigns
HTTP = -2  # placeholder for the http_request task's id
INACTIVE = -3  # placeholder for the inactive task's id


def _resolve(body: dict[str, Any], tasks: TaskIds) -> dict[str, Any]:
    """The body with a placeholder task id replaced by the real one."""
    ids = {NOOP: tasks.noop, HTTP: tasks.http_request, INACTIVE: tasks.inactive}
    task_id = body.get("taskFunctionId")
    if isinstance(task_id, int) and task_id in ids:
        return body | {"taskFunctionId": ids[task_id]}
    return body


CREATE_ERRORS = [
    pytest.param(
        {"taskFunctionId": NOOP, "intervalMinutes": 5, "cronExpression": "* * * * *"}, "cronExpression", id="both"
    ),
    pytest.param({"taskFunctionId": NOOP, "nameEn": "x"}, "intervalSeconds", id="neither"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 0, "intervalHours": 0}, "intervalMinutes", id="sum-0"),
    pytest.param({"taskFunctionId": NOOP, "intervalHours": -1}, "intervalHours", id="negative"),
    pytest.param({"taskFunctionId": NOOP, "cronExpression": "61 * * * *"}, "cronExpression", id="bad-cron"),
    pytest.param({"taskFunctionId": NOOP, "cronExpression": "0 0 30 2 *"}, "cronExpression", id="never-fires"),
    pytest.param(
        {"taskFunctionId": NOOP, "cronExpression": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", id="bad-zone"
    ),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "maxInstances": 0}, "maxInstances", id="max-0"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "maxInstances": 11}, "maxInstances", id="max-11"),
    pytest.param(
        {"taskFunctionId": NOOP, "intervalMinutes": 5, "misfireGraceTime": -1}, "misfireGraceTime", id="grace"
    ),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "priority": 11}, "priority", id="priority-max"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "priority": -1}, "priority", id="priority-neg"),
    pytest.param({"taskFunctionId": 999_999, "intervalMinutes": 5}, "taskFunctionId", id="unknown-task"),
    pytest.param({"taskFunctionId": INACTIVE, "intervalMinutes": 5}, "taskFunctionId", id="inactive-task"),
    pytest.param({"intervalMinutes": 5}, "taskFunctionId", id="no-task"),
    pytest.param({"taskFunctionId": HTTP, "intervalMinutes": 5}, "parameters.url", id="missing-param"),
    pytest.param(
        {"taskFunctionId": HTTP, "intervalMinutes": 5, "parameters": {"url": "https://x.org", "method": "BREW"}},
        "parameters.method",
        id="bad-param",
    ),
    pytest.param(
        {"taskFunctionId": HTTP, "intervalMinutes": 5, "parameters": {"url": "not a url"}},
        "parameters.url",
        id="param-format",
    ),
    pytest.param(
        {"taskFunctionId": NOOP, "intervalMinutes": 5, "parameters": {"surprise": 1}}, "parameters", id="extra-param"
    ),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "parameters": [1]}, "parameters", id="params-list"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "isPrimary": True}, "isPrimary", id="unknown-field"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "nameEn": "a\x00b"}, "nameEn", id="nul-in-text"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "nameEn": "x" * 256}, "nameEn", id="long-name"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 5, "timeoutSeconds": 0}, "timeoutSeconds", id="timeout"),
    pytest.param({"taskFunctionId": NOOP, "intervalMinutes": 2**31}, "intervalMinutes", id="int32-overflow"),
]


@pytest.mark.parametrize(("body", "field"), CREATE_ERRORS)
async def test_create_rejects_with_the_field_and_reason(
    client: AsyncClient, tasks: TaskIds, body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}/jobs", json=_resolve(body, tasks))

    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "validation_error"
    assert field in [problem["field"] for problem in answer["fields"]], answer
    assert all(problem["reason"] for problem in answer["fields"])
    assert (await client.get(f"{API}/jobs")).json()["total"] == 0  # nothing written


async def test_every_invalid_field_is_reported_at_once(client: AsyncClient, tasks: TaskIds) -> None:
    # Schema errors (types, ranges, unknown fields), with the service's on the fields the schema accepted (here:
    # the body has no schedule)...
    answer = (await client.post(f"{API}/jobs", json={"priority": 300, "surprise": 1, "maxInstances": 0})).json()
    assert {problem["field"] for problem in answer["fields"]} == {
        "taskFunctionId",
        "priority",
        "surprise",
        "maxInstances",
        "intervalSeconds",
    }

    # ...and the service's checks (schedule, task, deployment's priority limit) all together.
    body = {"taskFunctionId": tasks.inactive, "cronExpression": "nope", "priority": 11}
    answer = (await client.post(f"{API}/jobs", json=body)).json()
    assert {problem["field"] for problem in answer["fields"]} == {"cronExpression", "taskFunctionId", "priority"}


async def test_reasons_are_readable(client: AsyncClient, tasks: TaskIds) -> None:
    answer = (await client.post(f"{API}/jobs", json=interval_body(tasks.noop, bogus=1, intervalHours=-2))).json()

    assert {(problem["field"], problem["reason"]) for problem in answer["fields"]} == {
        ("bogus", "unknown field"),
        ("intervalHours", "Input should be greater than or equal to 0"),
    }
    answer = (await client.post(f"{API}/jobs", json=interval_body(tasks.http_request))).json()
    assert answer["fields"] == [{"field": "parameters.url", "reason": "required"}]
    assert answer["message"] == "invalid input: parameters.url"


async def test_a_body_that_is_not_json_is_422(client: AsyncClient) -> None:
    response = await client.post(f"{API}/jobs", content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body"


UPDATE_ERRORS = [
    pytest.param({"intervalMinutes": 5, "cronExpression": "* * * * *"}, "cronExpression", id="both"),
    pytest.param({"intervalMinutes": None}, "intervalSeconds", id="no-schedule-left"),
    pytest.param({"intervalMinutes": 0}, "intervalMinutes", id="sum-0"),
    pytest.param({"cronExpression": "every day"}, "cronExpression", id="bad-cron"),
    pytest.param({"cronExpression": "0 1 * * *", "timezone": "Nowhere/City"}, "timezone", id="bad-zone"),
    pytest.param({"priority": None}, "priority", id="null-priority"),
    pytest.param({"isEnabled": None}, "isEnabled", id="null-enabled"),
    pytest.param({"maxInstances": 11}, "maxInstances", id="max-instances"),
    pytest.param({"misfireGraceTime": -5}, "misfireGraceTime", id="grace"),
    pytest.param({"taskFunctionId": INACTIVE}, "taskFunctionId", id="inactive-task"),
    pytest.param({"taskFunctionId": HTTP}, "parameters.url", id="params-of-new-task"),
    pytest.param({"parameters": {"x": 1}}, "parameters", id="params-of-task"),
    pytest.param({"isPrimary": True}, "isPrimary", id="primary"),
]


@pytest.mark.parametrize(("change", "field"), UPDATE_ERRORS)
async def test_update_rejects_and_leaves_the_job_unchanged(
    client: AsyncClient, tasks: TaskIds, change: dict[str, Any], field: str
) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await client.put(f"{API}/jobs/{job['id']}", json=_resolve(change, tasks))

    assert response.status_code == 422, response.text
    assert field in [problem["field"] for problem in response.json()["fields"]]
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


async def test_update_of_a_cron_job_refuses_a_bad_zone(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.noop))

    response = await client.put(f"{API}/jobs/{job['id']}", json={"timezone": "Not/AZone"})

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "timezone"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": "first"}, "page"),
        ({"job_type_id": 0}, "job_type_id"),
        ({"is_enabled": "maybe"}, "is_enabled"),
    ],
)
async def test_list_refuses_bad_paging(client: AsyncClient, params: dict[str, Any], field: str) -> None:
    response = await client.get(f"{API}/jobs", params=params)

    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["fields"]] == [field]


@pytest.mark.parametrize("job_id", ["0", "abc", str(2**31)])
async def test_job_ids_outside_the_id_range_are_422(client: AsyncClient, job_id: str) -> None:
    response = await client.get(f"{API}/jobs/{job_id}")

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "job_id"

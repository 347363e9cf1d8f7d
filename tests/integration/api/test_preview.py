"""Schedule preview: the next fire times of a schedule being written, and of an existing job."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient

from tests.integration.api.support import API, TaskIds, create_job, cron_body, interval_body, parse_instant

CLOCK_SLACK = timedelta(seconds=5)


async def test_preview_of_an_interval(client: AsyncClient) -> None:
    before = datetime.now(UTC)
    response = await client.post(f"{API}/schedule/preview", json={"intervalMinutes": 30, "count": 3})

    assert response.status_code == 200, response.text
    preview = response.json()
    assert set(preview) == {"jobTypeId", "jobTypeName", "description", "timezone", "fireTimes"}
    assert (preview["jobTypeId"], preview["jobTypeName"], preview["timezone"]) == (1, "interval", "UTC")
    assert preview["description"] == "every 30 minutes"
    times = [parse_instant(value) for value in preview["fireTimes"]]
    assert len(times) == 3
    assert abs(times[0] - (before + timedelta(minutes=30))) <= CLOCK_SLACK
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(minutes=30)] * 2


async def test_preview_of_a_cron_expression_in_a_zone(client: AsyncClient) -> None:
    body = {"cronExpression": "0 2 * * *", "timezone": "Europe/Berlin"}
    preview = (await client.post(f"{API}/schedule/preview", json=body)).json()

    assert (preview["jobTypeId"], preview["timezone"]) == (2, "Europe/Berlin")
    times = [parse_instant(value) for value in preview["fireTimes"]]
    assert len(times) == 5  # the default count
    assert all(t.astimezone(ZoneInfo("Europe/Berlin")).hour == 2 for t in times)
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cronExpression": "0 25 * * *"}, "cronExpression"),
        ({"intervalMinutes": 1, "cronExpression": "* * * * *"}, "cronExpression"),
        ({}, "intervalSeconds"),
        ({"intervalMinutes": 1, "count": 0}, "count"),
        ({"intervalMinutes": 1, "count": 51}, "count"),
        ({"cronExpression": "0 1 * * *", "timezone": "Atlantis/Capital"}, "timezone"),
        ({"intervalMinutes": 1, "taskFunctionId": 1}, "taskFunctionId"),
    ],
)
async def test_preview_rejects_bad_schedules(client: AsyncClient, body: dict[str, object], field: str) -> None:
    response = await client.post(f"{API}/schedule/preview", json=body)

    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["fields"]] == [field]


async def test_preview_of_a_job_starts_at_its_next_run(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, intervalMinutes=10))

    preview = (await client.get(f"{API}/jobs/{job['id']}/preview", params={"count": 4})).json()

    times = [parse_instant(value) for value in preview["fireTimes"]]
    assert times[0] == parse_instant(job["nextRunAt"])
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(minutes=10)] * 3
    assert preview["description"] == "every 10 minutes"


async def test_preview_of_a_disabled_cron_job_starts_from_now(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.noop, cronExpression="15 * * * *", isEnabled=False))

    preview = (await client.get(f"{API}/jobs/{job['id']}/preview")).json()

    times = [parse_instant(value) for value in preview["fireTimes"]]
    assert len(times) == 5
    assert all(t.minute == 15 for t in times)
    assert timedelta(0) < times[0] - datetime.now(UTC) <= timedelta(hours=1)


async def test_preview_of_unknown_job_is_404(client: AsyncClient) -> None:
    assert (await client.get(f"{API}/jobs/424242/preview")).status_code == 404


async def test_preview_count_is_bounded(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await client.get(f"{API}/jobs/{job['id']}/preview", params={"count": 51})

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "count"

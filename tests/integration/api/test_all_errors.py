"""Every problem of a body in one 422 (issue 20), on PostgreSQL and SQLite: the schema's (types, ranges, unknown
fields, zones) and the service's (schedule rules, the task catalogue, the task's parameters schema, the deployment's
priority limit, the retry delays) together, in the body's order, and nothing written.

A seeded random test draws sets of independent mistakes from a catalogue and checks that the answer names exactly
the fields those mistakes break."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store.models import ScheduledJob
from tests.integration.api.support import API, TaskIds, create_job, cron_body

# The issue's form: four mistakes, of which the API used to report only the priority.
ISSUE_BODY = {
    "nameEn": "nightly report",
    "priority": -3,
    "cronExpression": "61 25 * * *",
    "timezone": "Europe/Berln",
    "parameters": {"url": "not a url"},
}
ISSUE_FIELDS = ["priority", "cronExpression", "timezone", "parameters.url"]


def fields_of(answer: dict[str, Any]) -> list[str]:
    return [problem["field"] for problem in answer["fields"]]


async def test_the_issues_four_mistakes_are_all_reported(client: AsyncClient, tasks: TaskIds) -> None:
    response = await client.post(f"{API}/jobs", json={"taskFunctionId": tasks.http_request, **ISSUE_BODY})

    assert response.status_code == 422, response.text
    answer = response.json()
    assert list(dict.fromkeys(fields_of(answer))) == ISSUE_FIELDS, "each named, in the body's order"
    assert answer["message"] == "invalid input: " + ", ".join(ISSUE_FIELDS)
    reasons = {problem["field"]: problem["reason"] for problem in reversed(answer["fields"])}  # the first
    assert "greater than or equal to 0" in reasons["priority"]
    assert "not a valid cron expression" in reasons["cronExpression"]
    assert "unknown time zone 'Europe/Berln'" in reasons["timezone"]
    assert "uri" in reasons["parameters.url"]
    assert (await client.get(f"{API}/jobs")).json()["total"] == 0, "nothing written"


async def test_an_update_reports_them_all_and_leaves_the_job_as_it_was(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, cron_body(tasks.http_request, parameters={"url": "https://example.org"}))

    response = await client.put(f"{API}/jobs/{job['id']}", json=ISSUE_BODY)

    assert response.status_code == 422, response.text
    assert list(dict.fromkeys(fields_of(response.json()))) == ISSUE_FIELDS
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job


async def test_an_update_of_a_job_that_does_not_exist_reports_the_schemas_problems(client: AsyncClient) -> None:
    response = await client.put(f"{API}/jobs/999999", json=ISSUE_BODY)

    assert response.status_code == 422, response.text
    assert fields_of(response.json()) == ["priority", "timezone"]


async def test_a_primary_jobs_task_change_beside_a_bad_field_is_a_422_then_a_409(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    job = await create_job(client, cron_body(tasks.noop))
    async with sessionmaker.begin() as session:
        await session.execute(update(ScheduledJob).where(ScheduledJob.id == job["id"]).values(is_primary=True))

    with_a_bad_field = await client.put(
        f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.sleep, "maxInstances": 0}
    )
    valid = await client.put(f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.sleep, "maxInstances": 2})

    assert with_a_bad_field.status_code == 422, with_a_bad_field.text
    assert fields_of(with_a_bad_field.json()) == ["maxInstances"]
    assert valid.status_code == 409, "the fields first, then the state"


async def test_an_inactive_task_and_the_deployments_priority_limit_beside_a_bad_field(
    client: AsyncClient, tasks: TaskIds
) -> None:
    job = await create_job(client, cron_body(tasks.noop))

    response = await client.put(
        f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.inactive, "maxInstances": 0, "priority": 11}
    )

    assert response.status_code == 422, response.text
    assert fields_of(response.json()) == ["taskFunctionId", "maxInstances", "priority"]


async def test_the_rules_between_schedule_fields_hold_beside_a_refused_one(client: AsyncClient, tasks: TaskIds) -> None:
    both = await client.post(
        f"{API}/jobs", json={"taskFunctionId": tasks.noop, "intervalHours": -1, "cronExpression": "0 2 * * *"}
    )
    only_bad_interval = await client.post(f"{API}/jobs", json={"taskFunctionId": tasks.noop, "intervalHours": -1})

    assert [(p["field"], p["reason"][:30]) for p in both.json()["fields"]] == [
        ("intervalHours", "Input should be greater than o"),
        ("cronExpression", "give either a cron expression "),
    ]
    # The refused interval field stands for an interval: no "a job needs a schedule" on top of its own reason.
    assert fields_of(only_bad_interval.json()) == ["intervalHours"]


async def test_a_preview_reports_the_schedule_and_the_count_together(client: AsyncClient) -> None:
    response = await client.post(f"{API}/schedule/preview", json={"count": 0, "cronExpression": "61 25 * * *"})

    assert response.status_code == 422, response.text
    assert fields_of(response.json()) == ["count", "cronExpression"]


# --- seeded random sets of mistakes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """A change to a valid body and the fields it breaks; mistakes with disjoint `keys` are independent."""

    name: str
    changes: dict[str, Any]
    fields: frozenset[str]
    keys: frozenset[str] = field(default=frozenset())

    def touches(self) -> frozenset[str]:
        return self.keys or frozenset(self.changes)


MISTAKES = [
    Mistake("negative priority", {"priority": -3}, frozenset({"priority"})),
    Mistake("priority over the deployment's 10", {"priority": 11}, frozenset({"priority"})),
    Mistake("cron out of range", {"cronExpression": "61 25 * * *"}, frozenset({"cronExpression"})),
    Mistake("cron that never fires", {"cronExpression": "0 0 30 2 *"}, frozenset({"cronExpression"})),
    Mistake("misspelt zone", {"timezone": "Europe/Berln"}, frozenset({"timezone"})),
    Mistake("url that is no url", {"parameters": {"url": "not a url"}}, frozenset({"parameters.url"})),
    Mistake("parameters without the url", {"parameters": {"method": "GET"}}, frozenset({"parameters.url"})),
    Mistake("no instance allowed", {"maxInstances": 0}, frozenset({"maxInstances"})),
    # (A NUL in a text is refused with the document, before any field is read: request_limits.py.)
    Mistake("name too long", {"nameEn": "x" * 256}, frozenset({"nameEn"})),
    Mistake("zero timeout", {"timeoutSeconds": 0}, frozenset({"timeoutSeconds"})),
    Mistake("negative grace", {"misfireGraceTime": -1}, frozenset({"misfireGraceTime"})),
    Mistake("unknown field", {"perPage": 2}, frozenset({"perPage"})),
    Mistake(
        "retry cap below the delay",
        {"retryDelaySeconds": 100, "retryMaxDelaySeconds": 10},
        frozenset({"retryMaxDelaySeconds"}),
    ),
    Mistake("too many retries", {"maxRetries": 11}, frozenset({"maxRetries"})),
    Mistake("unknown overlap policy", {"overlapPolicy": "wait"}, frozenset({"overlapPolicy"})),
    Mistake("a string for a number", {"pauseAfterFailures": "3"}, frozenset({"pauseAfterFailures"})),
]
SEED = 20_2020
DRAWS = 40


def draw(rng: random.Random) -> list[Mistake]:
    """Two to six mistakes that touch different keys."""
    chosen: list[Mistake] = []
    for mistake in rng.sample(MISTAKES, len(MISTAKES)):
        if len(chosen) == rng.randint(2, 6):
            break
        if all(not mistake.touches() & other.touches() for other in chosen):
            chosen.append(mistake)
    return chosen


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_random_sets_of_mistakes_are_each_reported_whole(
    client: AsyncClient, tasks: TaskIds, method: str
) -> None:
    valid = {
        "taskFunctionId": tasks.http_request,
        "nameEn": "report",
        "cronExpression": "0 2 * * *",
        "timezone": "Europe/Berlin",
        "parameters": {"url": "https://example.org/hook"},
    }
    job = await create_job(client, valid)
    rng = random.Random(SEED)
    for _ in range(DRAWS):
        mistakes = draw(rng)
        body: dict[str, Any] = dict(valid)
        for mistake in mistakes:
            body.update(mistake.changes)
        rng.shuffle(order := list(body))
        body = {key: body[key] for key in order}
        if method == "POST":
            response = await client.post(f"{API}/jobs", json=body)
        else:
            response = await client.put(f"{API}/jobs/{job['id']}", json=body)

        names = [mistake.name for mistake in mistakes]
        assert response.status_code == 422, (names, response.text)
        reported = fields_of(response.json())
        assert set(reported) == set().union(*(mistake.fields for mistake in mistakes)), (names, reported)
        keys = [key for key in body if any(key == f.split(".")[0] for f in reported)]
        assert list(dict.fromkeys(f.split(".")[0] for f in reported)) == keys, "in the body's order"

    listed = (await client.get(f"{API}/jobs")).json()
    assert listed["total"] == 1, "nothing written"
    assert listed["items"][0] == job, "the job unchanged"

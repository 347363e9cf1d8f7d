"""A query parameter an endpoint does not take is a 422 naming it (issue 20: `perPage=2` used to answer 20 items,
the real parameter being `per_page`), on every endpoint of the app, after the token check, with nothing run."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import AsyncClient

from scheduler_api.dependencies import declared_query
from tests.integration.api.support import API, TaskIds, create_job, interval_body

EXECUTION_ID = "00000000-0000-4000-8000-0000000000ee"


async def test_a_misspelt_page_size_is_named_with_what_the_endpoint_takes(client: AsyncClient, tasks: TaskIds) -> None:
    for _ in range(3):
        await create_job(client, interval_body(tasks.noop))

    misspelt = await client.get(f"{API}/jobs", params={"perPage": 2})
    spelt = await client.get(f"{API}/jobs", params={"per_page": 2})

    assert misspelt.status_code == 422, misspelt.text
    assert misspelt.json()["fields"] == [
        {
            "field": "perPage",
            "reason": "unknown query parameter; this endpoint takes is_enabled, job_type_id, name, page, per_page",
        }
    ]
    assert misspelt.json()["message"] == "invalid input: perPage"
    assert len(spelt.json()["items"]) == 2


async def test_every_unknown_parameter_is_named_once(client: AsyncClient) -> None:
    response = await client.get(f"{API}/history?statusId=4&per_page=5&statusId=5&sort=slot")

    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["fields"]] == ["statusId", "sort"]


async def test_a_create_with_an_unknown_parameter_writes_nothing(client: AsyncClient, tasks: TaskIds) -> None:
    response = await client.post(f"{API}/jobs", params={"dryRun": "true"}, json=interval_body(tasks.noop))

    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["fields"]] == ["dryRun"]
    assert (await client.get(f"{API}/jobs")).json()["total"] == 0


async def test_the_token_is_checked_first(anonymous: AsyncClient) -> None:
    response = await anonymous.get(f"{API}/jobs", params={"perPage": 2})

    assert response.status_code == 401


def concrete(path: str, job_id: int) -> str:
    return re.sub(r"\{execution_id\}", EXECUTION_ID, re.sub(r"\{job_id\}", str(job_id), path))


async def test_every_endpoint_refuses_an_unknown_parameter(app: FastAPI, client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    # Every route of the app but the documentation's own (Swagger UI's page and script, served as they are).
    routes = [
        (context.path, context.methods, context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path and not context.path.startswith("/docs")
    ]
    assert len(routes) >= 20, "the API's routes and /healthz, /readyz, /metrics"
    for path, methods, route in routes:
        assert isinstance(route, APIRoute)
        assert path
        assert methods
        for method in methods:
            response = await client.request(method, concrete(path, job["id"]), params={"bogus": "1"})

            where = f"{method} {path}"
            assert response.status_code == 422, (where, response.text)
            [problem] = response.json()["fields"]
            assert problem["field"] == "bogus", where
            assert problem["reason"].startswith("unknown query parameter; this endpoint takes "), where
            assert all(name in problem["reason"] for name in declared_query(route)), where
    assert (await client.get(f"{API}/jobs/{job['id']}")).json() == job, "no action ran"
    assert (await client.get(f"{API}/jobs")).json()["total"] == 1


async def test_declared_parameters_still_pass(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    answers = [
        await client.get(f"{API}/jobs/{job['id']}/preview", params={"count": 2, "from": "2030-01-01T00:00:00Z"}),
        await client.get(f"{API}/task-functions", params={"include_inactive": "true"}),
        await client.get(f"{API}/jobs/{job['id']}/history", params={"page": 1, "per_page": 5, "status_id": 3}),
        await client.get("/healthz"),
    ]

    assert [answer.status_code for answer in answers] == [200] * 4

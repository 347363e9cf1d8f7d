"""The http_request task, end to end through the API and an executor, aimed at a loopback listener this test
starts: by default the run fails with the guard's reason and the listener sees no request; with the address in
SCHEDULER_OUTBOUND_ALLOW the request arrives. And the API refuses a URL that is not http or https."""

from __future__ import annotations

from httpx import AsyncClient

from scheduler_core.bootstrap import Database
from tests.integration.api.pipeline import final_run, open_pipeline
from tests.integration.api.support import API, TaskIds, Tokens, create_job, interval_body
from tests.support.listeners import listening


async def run_http_request(client: AsyncClient, task_id: int, url: str) -> dict[str, object]:
    job = await create_job(client, {"taskFunctionId": task_id, "intervalDays": 1, "parameters": {"url": url}})
    action = (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"})).json()
    return await final_run(client, job["id"], action["executionId"])


async def test_a_run_aimed_at_loopback_fails_with_the_reason_and_reaches_nothing(
    database: Database, tokens: Tokens
) -> None:
    async with listening("127.0.0.1") as listener, open_pipeline(database, tokens) as pipeline:
        run = await run_http_request(pipeline.client, pipeline.task_ids["http_request"], f"{listener.url}/hook")

    assert run["statusName"] == "failed"
    assert str(run["errorMessage"]).startswith(f"OutboundRefused: refused http://127.0.0.1:{listener.port}")
    assert "a loopback address; SCHEDULER_OUTBOUND_ALLOW can allow it" in str(run["errorMessage"])
    assert listener.received == []


async def test_an_allowed_address_gets_the_request(database: Database, tokens: Tokens) -> None:
    async with (
        listening("127.0.0.1") as listener,
        open_pipeline(database, tokens, outbound_allow=["127.0.0.1"]) as pipeline,
    ):
        run = await run_http_request(pipeline.client, pipeline.task_ids["http_request"], f"{listener.url}/hook")

    assert run["statusName"] == "success", run
    assert run["resultSummary"] == f"GET {listener.url}/hook -> 200"
    [received] = listener.received
    assert received.request_line == "GET /hook HTTP/1.1"
    assert received.headers["x-scheduler-execution-id"] == run["executionId"]


async def test_the_api_refuses_a_url_that_is_not_http(client: AsyncClient, tasks: TaskIds) -> None:
    for url in ("ftp://files.example/x", "file:///etc/passwd", "gopher://127.0.0.1:70/"):
        body = interval_body(tasks.http_request, parameters={"url": url})
        response = await client.post(f"{API}/jobs", json=body)

        assert response.status_code == 422, url
        assert [problem["field"] for problem in response.json()["fields"]] == ["parameters.url"], url
    assert (await client.get(f"{API}/jobs")).json()["total"] == 0

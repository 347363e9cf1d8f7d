"""Trigger through the API, and the real pipeline runs it: the timekeeper's outbox relay publishes the manual
run (woken by on_schedule_change, as in embedded mode), an executor claims and runs the task, and the job's
history shows the outcome. In-memory broker; PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scheduler_core.bootstrap import Database
from tests.integration.api.pipeline import Pipeline, final_run, open_pipeline
from tests.integration.api.support import API, Tokens, create_job, parse_instant


@pytest.fixture
async def pipeline(database: Database, tokens: Tokens) -> AsyncIterator[Pipeline]:
    async with open_pipeline(database, tokens) as opened:
        yield opened


async def test_a_triggered_job_runs_and_its_history_shows_success(pipeline: Pipeline) -> None:
    client = pipeline.client
    job = await create_job(client, {"taskFunctionId": pipeline.task_ids["noop"], "nameEn": "Manual", "intervalDays": 1})

    action = (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"})).json()
    run = await final_run(client, job["id"], action["executionId"])

    assert (run["statusId"], run["statusName"], run["trigger"]) == (3, "success", "manual")
    assert run["resultSummary"] == "nothing to do"
    assert run["executorId"] == pipeline.executor_id
    assert run["hostName"]
    assert parse_instant(run["startedAt"]) <= parse_instant(run["completedAt"])
    assert run["durationMs"] is not None
    assert run["errorMessage"] is None
    refreshed = (await client.get(f"{API}/jobs/{job['id']}")).json()
    # lastRunAt is when the job fired: the manual run's scheduled time.
    assert refreshed["lastRunAt"] == run["scheduledAt"]
    assert refreshed["nextRunAt"] == job["nextRunAt"]  # a manual run leaves the schedule alone


async def test_a_failing_task_shows_its_error_and_traceback(pipeline: Pipeline) -> None:
    client = pipeline.client
    body = {"taskFunctionId": pipeline.task_ids["fail"], "intervalDays": 1, "parameters": {"message": "boom"}}
    job = await create_job(client, body)

    action = (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"})).json()
    run = await final_run(client, job["id"], action["executionId"])

    assert run["statusName"] == "failed"
    assert run["errorMessage"] == "TaskFailed: boom"
    assert "TaskFailed: boom" in run["errorTraceback"]

"""Job actions: enable, disable, trigger, pause, resume; 409 when the action makes no sense in the job's state;
concurrent actions on one job serialise on its row lock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, Trigger
from tests.integration.api.support import (
    API,
    INSTANCE_ID,
    SUBJECT,
    ScheduleChanges,
    TaskIds,
    Tokens,
    api_settings,
    create_job,
    interval_body,
    open_client,
    parse_instant,
)
from tests.support.factories import task_function
from tests.support.stores import store_of

CLOCK_SLACK = timedelta(seconds=5)


async def act(client: AsyncClient, job_id: int, action: str) -> tuple[int, dict[str, object]]:
    response = await client.post(f"{API}/jobs/{job_id}/action", json={"action": action})
    return response.status_code, response.json()


async def test_disable_then_enable(client: AsyncClient, tasks: TaskIds, schedule_changes: ScheduleChanges) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    status, disabled = await act(client, job["id"], "disable")
    assert status == 200
    assert set(disabled) == {"success", "message", "executionId", "job"}
    assert (disabled["success"], disabled["message"], disabled["executionId"]) == (
        True,
        "Job disabled successfully",
        None,
    )
    assert isinstance(disabled["job"], dict)
    assert (disabled["job"]["isEnabled"], disabled["job"]["nextRunAt"]) == (False, None)
    assert disabled["job"]["updatedById"] == SUBJECT

    before = datetime.now(UTC)
    status, enabled = await act(client, job["id"], "enable")
    assert (status, enabled["message"]) == (200, "Job enabled successfully")
    assert isinstance(enabled["job"], dict)
    assert enabled["job"]["isEnabled"] is True
    next_run = parse_instant(str(enabled["job"]["nextRunAt"]))
    assert abs(next_run - (before + timedelta(minutes=30))) <= CLOCK_SLACK
    assert schedule_changes.calls == 3  # create, disable, enable


async def test_enable_an_enabled_job_is_409(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    status, body = await act(client, job["id"], "enable")

    assert status == 409
    assert body == {"error": "conflict", "message": f"job {job['id']} is already enabled", "fields": []}


async def test_disable_a_disabled_job_is_409(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, isEnabled=False))

    status, body = await act(client, job["id"], "disable")

    assert (status, body["message"]) == (409, f"job {job['id']} is already disabled")


async def test_pause_then_resume(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    status, paused = await act(client, job["id"], "pause")
    assert (status, paused["message"]) == (200, "Job paused successfully")
    assert isinstance(paused["job"], dict)
    assert (paused["job"]["isPaused"], paused["job"]["isEnabled"], paused["job"]["nextRunAt"]) == (True, True, None)

    before = datetime.now(UTC)
    status, resumed = await act(client, job["id"], "resume")
    assert (status, resumed["message"]) == (200, "Job resumed successfully")
    assert isinstance(resumed["job"], dict)
    assert resumed["job"]["isPaused"] is False
    next_run = parse_instant(str(resumed["job"]["nextRunAt"]))
    assert abs(next_run - (before + timedelta(minutes=30))) <= CLOCK_SLACK


async def test_pause_a_paused_job_is_409(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await act(client, job["id"], "pause")

    status, body = await act(client, job["id"], "pause")

    assert (status, body["message"]) == (409, f"job {job['id']} is already paused")


async def test_pause_a_disabled_job_is_409(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, isEnabled=False))

    status, body = await act(client, job["id"], "pause")

    assert status == 409
    assert "disabled" in str(body["message"])


async def test_resume_a_job_that_is_not_paused_is_409(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    status, body = await act(client, job["id"], "resume")

    assert (status, body["message"]) == (409, f"job {job['id']} is not paused")


async def test_a_paused_job_stays_without_a_next_run_when_enabled(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await act(client, job["id"], "pause")
    await act(client, job["id"], "disable")

    status, enabled = await act(client, job["id"], "enable")
    assert status == 200
    assert isinstance(enabled["job"], dict)
    assert (enabled["job"]["isEnabled"], enabled["job"]["isPaused"], enabled["job"]["nextRunAt"]) == (True, True, None)
    _, resumed = await act(client, job["id"], "resume")
    assert isinstance(resumed["job"], dict)
    assert resumed["job"]["nextRunAt"] is not None


async def test_trigger_writes_a_pending_manual_run(
    client: AsyncClient,
    tasks: TaskIds,
    sessionmaker: async_sessionmaker[AsyncSession],
    schedule_changes: ScheduleChanges,
) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    before = datetime.now(UTC)
    status, triggered = await act(client, job["id"], "trigger")

    assert (status, triggered["success"], triggered["message"]) == (200, True, "Job triggered successfully")
    execution_id = str(triggered["executionId"])
    assert str(uuid.UUID(execution_id)) == execution_id
    # The schedule is untouched; lastRunAt records that the job fired now.
    fired = triggered["job"]
    assert isinstance(fired, dict)
    assert fired == {**job, "lastRunAt": fired["lastRunAt"]}
    assert fired["lastRunAt"] is not None
    assert schedule_changes.calls == 2  # the timekeeper is woken to publish the run
    async with sessionmaker() as session:
        execution = await store_of(session).history.get(session, execution_id)
    assert execution is not None
    assert (execution.job_id, execution.status_id, execution.trigger) == (
        job["id"],
        ExecutionStatus.PENDING,
        Trigger.MANUAL,
    )
    assert abs(execution.scheduled_at - before) <= CLOCK_SLACK
    assert execution.published_at is None  # the timekeeper's outbox relay publishes it, not the API


async def test_trigger_works_on_a_disabled_job_and_twice(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, isEnabled=False, maxInstances=2))

    first = await act(client, job["id"], "trigger")
    second = await act(client, job["id"], "trigger")

    assert (first[0], second[0]) == (200, 200)
    assert first[1]["executionId"] != second[1]["executionId"]
    history = (await client.get(f"{API}/jobs/{job['id']}/history")).json()
    assert history["total"] == 2


@pytest.mark.parametrize("action", ["enable", "disable", "trigger", "pause", "resume"])
async def test_action_on_unknown_or_deleted_job_is_404(client: AsyncClient, tasks: TaskIds, action: str) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await client.delete(f"{API}/jobs/{job['id']}")

    assert (await act(client, 424242, action))[0] == 404
    assert (await act(client, job["id"], action))[0] == 404


@pytest.mark.parametrize("body", [{"action": "explode"}, {"action": "ENABLE"}, {}, {"action": "enable", "now": 1}])
async def test_an_action_outside_the_five_is_422(client: AsyncClient, tasks: TaskIds, body: dict[str, str]) -> None:
    job = await create_job(client, interval_body(tasks.noop))

    response = await client.post(f"{API}/jobs/{job['id']}/action", json=body)

    assert response.status_code == 422
    fields = [problem["field"] for problem in response.json()["fields"]]
    assert fields in (["action"], ["now"])


async def test_concurrent_enables_serialise_on_the_job_lock(pg_engine: AsyncEngine, tokens: Tokens) -> None:
    """Eight simultaneous enables of a disabled job: exactly one wins, the others see it enabled (409)."""
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        task_id = await task_function(session)
    app = create_app(
        api_settings(),
        Database.of(pg_engine),
        instance_id=INSTANCE_ID,
    )
    async with open_client(app, tokens.headers()) as client:
        job = await create_job(client, interval_body(task_id, isEnabled=False))

        results = await asyncio.gather(*(act(client, job["id"], "enable") for _ in range(8)))

    assert sorted(status for status, _ in results) == [200] + [409] * 7

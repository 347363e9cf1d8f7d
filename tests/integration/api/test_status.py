"""Scheduler status: live instances, counters, last heartbeat, runs in progress."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import NewExecution
from scheduler_core.store.models import ExecutionStatus, InstanceStatus, SchedulerInstance
from tests.integration.api.support import API, INSTANCE_ID, TaskIds, create_job, interval_body, parse_instant
from tests.support.factories import new_id
from tests.support.stores import store_of

# Every field of the reference's TypeScript `SchedulerStatus`, and ours.
REFERENCE_STATUS_FIELDS = {
    "isRunning",
    "mode",
    "instanceId",
    "activeInstances",
    "totalJobs",
    "enabledJobs",
    "runningExecutions",
    "lastHeartbeat",
}
INSTANCE_FIELDS = {
    "id",
    "name",
    "role",
    "mode",
    "status",
    "hostName",
    "processId",
    "startedAt",
    "lastHeartbeat",
    "heartbeatAgeSeconds",
    "isLive",
}


async def register(sessionmaker: async_sessionmaker[AsyncSession], role: str, *, silent_for: float = 0.0) -> str:
    instance_id = new_id()
    async with sessionmaker.begin() as session:
        await store_of(session).instances.register(
            session,
            {
                "id": instance_id,
                "instance_name": f"{role}@test",
                "host_name": "test-host",
                "process_id": 4242,
                "mode": "standalone",
                "role": role,
                "status": InstanceStatus.RUNNING,
            },
        )
        if silent_for:
            last = await store_of(session).clock.now(session) - timedelta(seconds=silent_for)
            await session.execute(
                update(SchedulerInstance).where(SchedulerInstance.id == instance_id).values(last_heartbeat=last)
            )
    return instance_id


async def test_status_without_instances(client: AsyncClient) -> None:
    status = (await client.get(f"{API}/status")).json()

    assert set(status) == REFERENCE_STATUS_FIELDS | {"instances", "executionsInProgress"}
    # Required by the reference even when no instance has beaten: the database's now stands in.
    assert isinstance(status.pop("lastHeartbeat"), str)
    assert status == {
        "isRunning": False,
        "mode": "standalone",
        "instanceId": INSTANCE_ID,
        "activeInstances": 0,
        "totalJobs": 0,
        "enabledJobs": 0,
        "runningExecutions": 0,
        "instances": [],
        "executionsInProgress": [],
    }


async def test_status_counts_live_instances_jobs_and_running_runs(
    client: AsyncClient, tasks: TaskIds, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    live = await register(sessionmaker, "timekeeper")
    silent = await register(sessionmaker, "executor", silent_for=600)  # crashed, not yet swept
    stopped = await register(sessionmaker, "executor")
    async with sessionmaker.begin() as session:
        await store_of(session).instances.set_status(session, stopped, InstanceStatus.STOPPED)
    job = await create_job(client, interval_body(tasks.noop))
    await create_job(client, interval_body(tasks.noop, isEnabled=False))
    deleted = await create_job(client, interval_body(tasks.noop))
    await client.delete(f"{API}/jobs/{deleted['id']}")
    running_id = new_id()
    async with sessionmaker.begin() as session:
        now = await store_of(session).clock.now(session)
        await store_of(session).outbox.add(
            session,
            [
                NewExecution(running_id, job["id"], now, status_id=ExecutionStatus.RUNNING),
                NewExecution(new_id(), job["id"], now - timedelta(minutes=1), status_id=ExecutionStatus.PENDING),
            ],
        )

    status = (await client.get(f"{API}/status")).json()

    assert (status["isRunning"], status["activeInstances"]) == (True, 1)
    assert (status["totalJobs"], status["enabledJobs"], status["runningExecutions"]) == (2, 1, 1)
    instances = {instance["id"]: instance for instance in status["instances"]}
    assert set(instances) == {live, silent}
    assert all(set(instance) == INSTANCE_FIELDS for instance in instances.values())
    assert (instances[live]["isLive"], instances[silent]["isLive"]) == (True, False)
    assert instances[silent]["heartbeatAgeSeconds"] >= 600
    assert (instances[live]["role"], instances[live]["hostName"], instances[live]["status"]) == (
        "timekeeper",
        "test-host",
        "running",
    )
    assert status["lastHeartbeat"] == instances[live]["lastHeartbeat"]
    parse_instant(status["lastHeartbeat"])
    assert [run["executionId"] for run in status["executionsInProgress"]] == [running_id]
    assert status["executionsInProgress"][0]["statusName"] == "running"

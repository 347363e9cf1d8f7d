"""Notifications through real processes (issue 19): timekeepers, executors and an api as `python -m scheduler_cli`
processes over PostgreSQL and RabbitMQ, and a webhook receiver this test runs on 127.0.0.1. Each event kind
reaches the receiver once per occurrence, signed, and what it announces is what the history holds; a receiver down
for 30 s gets every event once it is back, none twice; a job whose timekeeper was down past its expected success is
reported silent, once; the embedded process (SQLite, one process) delivers them too."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.notifications import EVENT_TYPES
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import DeliveryStatus, ExecutionStatus, NotificationDelivery
from tests.support.cluster import (
    Cluster,
    create_job,
    db_now,
    eventually,
    executions,
    instance_of_pid,
    runs_ended,
    settle,
)
from tests.support.notifications import SECRET, add_channel, deliveries
from tests.support.processes import RoleProcess, free_port, service_token
from tests.support.product import clean_env, product, read_banner, token_from_banner, wait_ready
from tests.support.receiver import Received, Receiver
from tests.support.stores import store_for

# Fast relaying for the test: looks every 0.2 s, retries after 0.5 s, 1 s, then every 2 s; the receiver is local.
NOTIFY_ENV = {
    "SCHEDULER_OUTBOUND_ALLOW": '["127.0.0.1"]',
    "SCHEDULER_NOTIFICATION_POLL_INTERVAL": "0.2",
    "SCHEDULER_NOTIFICATION_RETRY_DELAY": "0.5",
    "SCHEDULER_NOTIFICATION_RETRY_MAX_DELAY": "2",
    "SCHEDULER_NOTIFICATION_TIMEOUT": "2",
}
API = "/api/v1/scheduler"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver()
    await started.start()
    yield started
    await started.stop()


async def call(api: RoleProcess, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {service_token()}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}{API}", headers=headers, timeout=10) as client:
        response = await client.request(method, path, json=body)
    assert response.is_success, response.text
    return response.json()


async def all_delivered(engine: AsyncEngine, channel_id: int) -> list[NotificationDelivery] | None:
    """The channel's deliveries once every one of them is delivered (an `eventually` probe)."""
    rows = await deliveries(create_sessionmaker(engine), channel_id=channel_id)
    return rows if rows and all(row.status == DeliveryStatus.DELIVERED for row in rows) else None


def check_received(received: list[Received], rows: list[NotificationDelivery]) -> None:
    """Each delivery the database holds reached the receiver exactly once, signed with the channel's secret."""
    ids = [r.event_id for r in received]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert set(ids) == {row.event_id for row in rows}
    now = time.time()
    assert all(r.signed_by(SECRET, now=now) for r in received)
    assert all(r.payload["id"] == r.event_id for r in received)


def announced(receiver: Receiver, event_type: str, key: str = "executionId") -> set[Any]:
    return {r.payload["data"][key] for r in receiver.events(event_type)}


@pytest.mark.timeout(100)
async def test_each_event_kind_reaches_the_receiver_once_per_occurrence_signed(
    pg_engine: AsyncEngine, cluster: Cluster, receiver: Receiver, tmp_path: Path
) -> None:
    log, switch = tmp_path / "starts.log", tmp_path / "switch"
    switch.touch()
    [api] = await cluster.start("api", env=NOTIFY_ENV)
    channel = await call(
        api, "POST", "/notification-channels",
        {"name": "receiver", "url": receiver.url, "events": list(EVENT_TYPES), "secret": SECRET},
    )  # fmt: skip
    victim, _ = await cluster.executors(2, env=NOTIFY_ENV)
    victim_id = await eventually(lambda: instance_of_pid(pg_engine, victim.pid), 10, "the victim's instance")
    await cluster.timekeepers(2, env=NOTIFY_ENV)  # two relays: none may send a delivery the other sends
    now = await db_now(pg_engine)
    record = {"log": str(log)}
    # Each slot fails twice (a retry), so run.failed comes once a slot; the second slot pauses the job.
    retried = await create_job(
        pg_engine, task="crash", parameters=record, interval_seconds=2, max_retries=1, retry_delay_seconds=0,
        pause_after_failures=2,
    )  # fmt: skip
    # Fails every second, and expects a success within 2 s: silent once, however long it keeps failing.
    silent = await create_job(
        pg_engine, task="crash", parameters=record, expect_success_within_seconds=2,
        success_expected_by=now + timedelta(seconds=2),
    )  # fmt: skip
    recovering = await create_job(pg_engine, task="fail_while", parameters={**record, "fail_while": str(switch)})
    # Slots 5 s back without coalescing, 1 s of grace: the late ones are written missed.
    await create_job(
        pg_engine, task="record", parameters=record, first_slot=now - timedelta(seconds=5), coalesce=False,
        misfire_grace_time=1,
    )  # fmt: skip
    await create_job(pg_engine, task="record", parameters={**record, "seconds": 2.5})  # overlaps itself: skipped
    by_hand = await create_job(pg_engine, task="record", parameters=record, first_in=3600)
    victim.kill(signal.SIGKILL)

    async def failed_twice() -> bool | None:
        rows = await executions(pg_engine, recovering.job_id)
        return True if sum(r.status_id == ExecutionStatus.FAILED for r in rows) >= 2 else None

    await eventually(failed_twice, 20, "two failed slots of the recovering job")
    switch.unlink()
    await call(api, "POST", f"/jobs/{by_hand.job_id}/action", {"action": "pause"})

    async def every_kind() -> bool | None:
        seen = {r.payload["type"] for r in receiver.received}
        return True if seen == set(EVENT_TYPES) and len(receiver.events("job.paused")) == 2 else None

    await eventually(every_kind, 30, f"every event kind at the receiver\n{cluster.tails()}")
    jobs = await call(api, "GET", "/jobs?per_page=100")
    for job in jobs["items"]:
        if not job["isPrimary"]:
            await call(api, "DELETE", f"/jobs/{job['id']}")  # no more events
    history = await settle(pg_engine, timeout=30)
    rows = await eventually(lambda: all_delivered(pg_engine, channel["id"]), 20, "every delivery delivered")

    check_received(receiver.received, rows)
    final_failures = {r.execution_id for r in history if r.status_id == ExecutionStatus.FAILED and not r.retried_by}
    assert announced(receiver, "run.failed") == final_failures
    retried_failures = [r for r in receiver.events("run.failed") if r.payload["job"]["id"] == retried.job_id]
    assert retried_failures
    assert all(r.payload["data"]["attempt"] == 2 for r in retried_failures)  # after the retry, not before
    by_status = {status: {r.execution_id for r in history if r.status_id == status} for status in ExecutionStatus}
    assert announced(receiver, "run.missed") == by_status[ExecutionStatus.MISSED]
    assert announced(receiver, "run.skipped") == by_status[ExecutionStatus.SKIPPED]
    paused = sorted((r.payload["job"]["id"], r.payload["data"]["automatic"]) for r in receiver.events("job.paused"))
    assert paused == sorted([(retried.job_id, True), (by_hand.job_id, False)])
    assert [r.payload["job"]["id"] for r in receiver.events("job.recovered")] == [recovering.job_id]
    assert [r.payload["job"]["id"] for r in receiver.events("job.silent")] == [silent.job_id]
    assert announced(receiver, "executor.lost", "instanceId") == {victim_id}
    assert len(receiver.events("executor.lost")) == 1
    print({kind: len(receiver.events(kind)) for kind in EVENT_TYPES})


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_a_receiver_down_for_30_s_gets_every_event_once_it_is_back_and_none_twice(
    pg_engine: AsyncEngine, cluster: Cluster, tmp_path: Path
) -> None:
    receiver = Receiver()
    await receiver.start()
    await receiver.stop()  # its port refuses connections from now on
    maker = create_sessionmaker(pg_engine)
    channel_id = await add_channel(maker, url=receiver.url, events=["run.failed"])
    await cluster.executors(1, env=NOTIFY_ENV)
    await cluster.timekeepers(2, env=NOTIFY_ENV)
    down_at = time.monotonic()
    job = await create_job(pg_engine, task="crash", parameters={"log": str(tmp_path / "starts.log")}, first_in=0.5)
    await runs_ended(pg_engine, job.job_id, 10, status=ExecutionStatus.FAILED, timeout=30)  # while the receiver is down
    async with maker.begin() as session:
        await store_for(pg_engine).jobs.soft_delete(session, job.job_id)
    history = await settle(pg_engine, timeout=20)
    failed = {r.execution_id for r in history if r.status_id == ExecutionStatus.FAILED}
    assert len(failed) >= 5
    await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    rows = await deliveries(maker, channel_id=channel_id)
    assert {row.status for row in rows} == {DeliveryStatus.PENDING}
    attempts = sorted(row.attempts for row in rows)
    assert attempts[-1] >= 5  # tried again and again meanwhile, on the backoff schedule
    assert all(row.last_error and row.last_error.startswith("ConnectError") for row in rows if row.attempts)

    try:
        await receiver.start()  # the same port
        back_at = time.monotonic()
        rows = await eventually(lambda: all_delivered(pg_engine, channel_id), 30, "every delivery delivered")
        caught_up = time.monotonic() - back_at
    finally:
        await receiver.stop()
    check_received(receiver.received, rows)
    assert announced(receiver, "run.failed") == failed
    # The retry delay is at most 2 s (+10 % jitter) here, and a batch takes a poll of 0.2 s.
    assert caught_up < 2.2 + 0.2 + 3.0, caught_up
    tried = f"tried {attempts[0]}-{attempts[-1]} times while the receiver was down"
    print(f"{len(rows)} deliveries, {tried}, all delivered {caught_up:.2f} s after it came back")


@pytest.mark.timeout(80)
async def test_a_job_whose_timekeeper_was_down_past_its_expected_success_is_reported_silent_once(
    pg_engine: AsyncEngine, cluster: Cluster, receiver: Receiver, tmp_path: Path
) -> None:
    maker = create_sessionmaker(pg_engine)
    await add_channel(maker, url=receiver.url, events=["job.silent"])
    await cluster.executors(1, env=NOTIFY_ENV)
    [timekeeper] = await cluster.timekeepers(1, env=NOTIFY_ENV)
    now = await db_now(pg_engine)
    job = await create_job(
        pg_engine, task="record", parameters={"log": str(tmp_path / "starts.log")},
        expect_success_within_seconds=3, success_expected_by=now + timedelta(seconds=3),
    )  # fmt: skip

    async def successes(at_least: int) -> int | None:
        done = sum(r.status_id == ExecutionStatus.SUCCESS for r in await executions(pg_engine, job.job_id))
        return done if done >= at_least else None

    before = await eventually(lambda: successes(3), 20, "three successes")
    assert receiver.events("job.silent") == []  # a job that succeeds every second is not silent
    timekeeper.kill(signal.SIGKILL)
    await timekeeper.process.wait()
    down_at = await db_now(pg_engine)
    await asyncio.sleep(5)  # no timekeeper: no run, no sweep, for longer than the 3 s the job expects
    await cluster.timekeepers(1, env=NOTIFY_ENV)
    await eventually(lambda: successes(before + 3), 20, "the job running again")
    [reported] = await eventually(lambda: _some(receiver.events("job.silent")), 10, "job.silent")
    await asyncio.sleep(2)  # nothing more comes: the job succeeds again
    assert receiver.events("job.silent") == [reported]
    assert reported.signed_by(SECRET, now=time.time())
    data = reported.payload["data"]
    assert reported.payload["job"]["id"] == job.job_id
    assert data["expectSuccessWithinSeconds"] == 3
    assert data["successExpectedBy"] <= (down_at + timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    print(f"job.silent detected {'at the next success' if data['detectedLate'] else 'by the sweep'}")


async def _some(items: list[Received]) -> list[Received] | None:
    return items or None


@pytest.mark.timeout(80)
async def test_the_embedded_process_delivers_notifications_over_sqlite(receiver: Receiver, tmp_path: Path) -> None:
    port = free_port()
    args = ["embedded", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    async with product(args, clean_env(**NOTIFY_ENV), tmp_path / "embedded.log") as process:
        token = token_from_banner(await read_banner(process))
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process=process)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url + API, headers=headers, timeout=10) as client:
            channel = {"name": "r", "url": receiver.url, "events": ["run.failed", "job.paused"], "secret": SECRET}
            assert (await client.post("/notification-channels", json=channel)).status_code == 201
            functions = (await client.get("/task-functions")).json()
            fail = next(f["id"] for f in functions if f["key"] == "fail")
            job = {"taskFunctionId": fail, "intervalSeconds": 1, "pauseAfterFailures": 2, "parameters": {}}
            created = await client.post("/jobs", json=job)
            assert created.status_code == 201, created.text

            async def paused() -> bool | None:
                return True if receiver.events("job.paused") else None

            await eventually(paused, 30, "job.paused from the embedded process")
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    # (the second failure and the pause are written together, and sent at once: in either order)
    assert sorted(r.payload["type"] for r in receiver.received) == ["job.paused", "run.failed", "run.failed"]
    assert all(r.signed_by(SECRET, now=time.time()) for r in receiver.received)

"""Run control through the API (issue 18): the job's fields and their bounds, cancel and re-run of a run, backfill
(its slots, idempotency and limit), preview from a date (across both 2027 DST transitions), resume after a pause
the job gave itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.store import NewExecution
from scheduler_core.store.models import ExecutionStatus, ScheduledJob
from tests.integration.api.support import API, TaskIds, create_job, cron_body, interval_body, parse_instant
from tests.support.factories import new_id
from tests.support.stores import store_of

Maker = async_sessionmaker[AsyncSession]


async def _run(sessionmaker: Maker, job_id: int, status: ExecutionStatus, slot: datetime | None = None) -> str:
    """A run of the job in this status, written straight to the store; its execution id."""
    async with sessionmaker.begin() as session:
        store = store_of(session)
        now = await store.clock.now(session)
        execution_id = new_id()
        completed = now if status.is_terminal else None
        row = NewExecution(
            execution_id, job_id, slot or now - timedelta(minutes=5), status_id=status, completed_at=completed
        )
        await store.outbox.add(session, [row])
    return execution_id


async def _action(client: AsyncClient, job_id: int, execution_id: str, action: str) -> Any:
    return await client.post(f"{API}/jobs/{job_id}/executions/{execution_id}/action", json={"action": action})


# --- fields ------------------------------------------------------------------------------------------------------


async def test_run_control_fields_round_trip_with_their_defaults(client: AsyncClient, tasks: TaskIds) -> None:
    plain = await create_job(client, interval_body(tasks.noop))
    custom = await create_job(
        client,
        interval_body(
            tasks.noop,
            maxRetries=3,
            retryDelaySeconds=5,
            retryBackoffFactor=1.5,
            retryMaxDelaySeconds=60,
            overlapPolicy="queue",
            pauseAfterFailures=4,
        ),
    )
    updated = (await client.put(f"{API}/jobs/{custom['id']}", json={"overlapPolicy": "replace"})).json()

    defaults = {key: plain[key] for key in ("maxRetries", "retryDelaySeconds", "retryBackoffFactor")}
    assert defaults == {"maxRetries": 0, "retryDelaySeconds": 10, "retryBackoffFactor": 2.0}
    assert (plain["retryMaxDelaySeconds"], plain["overlapPolicy"], plain["pauseAfterFailures"]) == (3600, "skip", 0)
    assert (plain["consecutiveFailures"], plain["pausedReason"]) == (0, None)
    assert (custom["maxRetries"], custom["retryBackoffFactor"], custom["overlapPolicy"]) == (3, 1.5, "queue")
    assert (updated["overlapPolicy"], updated["maxRetries"]) == ("replace", 3)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"maxRetries": 11}, "maxRetries", "less than or equal to 10"),
        ({"overlapPolicy": "drop"}, "overlapPolicy", "'skip', 'queue' or 'replace'"),
        ({"retryBackoffFactor": 0.5}, "retryBackoffFactor", "greater than or equal to 1"),
        ({"retryDelaySeconds": 100, "retryMaxDelaySeconds": 50}, "retryMaxDelaySeconds", "must not be less than"),
        ({"pauseAfterFailures": -1}, "pauseAfterFailures", "greater than or equal to 0"),
    ],
)
async def test_run_control_fields_out_of_bounds_are_refused_naming_the_field(
    client: AsyncClient, tasks: TaskIds, fields: dict[str, Any], field: str, reason: str
) -> None:
    response = await client.post(f"{API}/jobs", json=interval_body(tasks.noop, **fields))
    assert response.status_code == 422, response.text
    problems = {problem["field"]: problem["reason"] for problem in response.json()["fields"]}
    assert field in problems, problems
    assert reason in problems[field]


async def test_an_update_checks_the_delays_against_the_stored_ones(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, retryDelaySeconds=100, retryMaxDelaySeconds=200))
    response = await client.put(f"{API}/jobs/{job['id']}", json={"retryMaxDelaySeconds": 50})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "retryMaxDelaySeconds"


async def test_resume_clears_the_pause_a_job_gave_itself(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, interval_body(tasks.noop, pauseAfterFailures=2))
    async with sessionmaker.begin() as session:  # as the finish of its second failed slot in a row leaves it
        await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id == job["id"])
            .values(is_paused=True, next_run_at=None, consecutive_failures=2, paused_reason="paused after 2")
        )
    paused = (await client.get(f"{API}/jobs/{job['id']}")).json()
    resumed = (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "resume"})).json()["job"]

    assert (paused["isPaused"], paused["pausedReason"], paused["consecutiveFailures"]) == (True, "paused after 2", 2)
    assert (resumed["isPaused"], resumed["pausedReason"], resumed["consecutiveFailures"]) == (False, None, 0)
    assert resumed["nextRunAt"] is not None


# --- cancel and re-run -------------------------------------------------------------------------------------------


async def test_cancel_a_pending_run_and_rerun_a_finished_one(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, interval_body(tasks.noop, parameters=None))
    pending = await _run(sessionmaker, job["id"], ExecutionStatus.PENDING)
    finished = await _run(sessionmaker, job["id"], ExecutionStatus.FAILED)

    cancelled = await _action(client, job["id"], pending, "cancel")
    again = await _action(client, job["id"], pending, "cancel")
    rerun = await _action(client, job["id"], finished, "rerun")
    not_finished = await _action(client, job["id"], rerun.json()["execution"]["executionId"], "rerun")

    assert cancelled.status_code == 200, cancelled.text
    run = cancelled.json()["execution"]
    assert (run["statusId"], run["statusName"]) == (7, "cancelled")
    assert run["cancelledBy"].startswith("user ")
    assert run["errorMessage"].startswith("cancelled: user ")
    assert again.status_code == 409
    assert "ended already" in again.json()["message"]
    assert rerun.status_code == 200, rerun.text
    new = rerun.json()["execution"]
    assert (new["trigger"], new["rerunOf"], new["statusId"], new["attempt"]) == ("manual", finished, 1, 1)
    assert new["firstExecutionId"] == new["executionId"]
    assert not_finished.status_code == 409
    assert "has not ended" in not_finished.json()["message"]


async def test_cancel_a_running_run_asks_its_executor(client: AsyncClient, tasks: TaskIds, sessionmaker: Maker) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    running = await _run(sessionmaker, job["id"], ExecutionStatus.RUNNING)
    first = await _action(client, job["id"], running, "cancel")
    second = await _action(client, job["id"], running, "cancel")
    assert first.status_code == second.status_code == 200
    assert "requested" in first.json()["message"]
    assert "already" in second.json()["message"]
    run = first.json()["execution"]
    assert run["statusId"] == 2
    assert run["cancelRequestedAt"] is not None


async def test_actions_on_runs_of_another_job_or_unknown_runs_are_404_and_bad_actions_422(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    other = await create_job(client, interval_body(tasks.noop))
    run = await _run(sessionmaker, other["id"], ExecutionStatus.SUCCESS)
    assert (await _action(client, job["id"], run, "rerun")).status_code == 404
    assert (await _action(client, job["id"], new_id(), "cancel")).status_code == 404
    bad = await _action(client, other["id"], run, "restart")
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "action"
    assert (await _action(client, other["id"], "not a/valid id", "cancel")).status_code in (404, 422)


async def test_rerun_is_refused_while_the_job_is_full_under_skip_but_not_under_queue(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    skip = await create_job(client, interval_body(tasks.noop, maxInstances=1))
    queue = await create_job(client, interval_body(tasks.noop, maxInstances=1, overlapPolicy="queue"))
    refused, accepted = None, None
    for job in (skip, queue):
        await _run(sessionmaker, job["id"], ExecutionStatus.RUNNING)
        done = await _run(sessionmaker, job["id"], ExecutionStatus.SUCCESS, slot=datetime.now(UTC) - timedelta(hours=1))
        response = await _action(client, job["id"], done, "rerun")
        if job is skip:
            refused = response
        else:
            accepted = response
    assert refused is not None
    assert refused.status_code == 409
    assert accepted is not None
    assert accepted.status_code == 200


# --- backfill ----------------------------------------------------------------------------------------------------


async def test_backfill_runs_each_past_slot_once_and_a_repeat_creates_nothing(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    job = await create_job(client, cron_body(tasks.noop, cronExpression="0 * * * *", timezone="UTC"))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = now - timedelta(hours=6), now - timedelta(hours=1)
    existing = await _run(sessionmaker, job["id"], ExecutionStatus.SUCCESS, slot=now - timedelta(hours=3))
    body = {"from": start.isoformat(), "to": end.isoformat()}

    first = await client.post(f"{API}/jobs/{job['id']}/backfill", json=body)
    repeat = await client.post(f"{API}/jobs/{job['id']}/backfill", json=body)

    assert first.status_code == 200, first.text
    assert (first.json()["slots"], first.json()["created"], first.json()["existing"]) == (6, 5, 1)
    assert (repeat.json()["created"], repeat.json()["existing"]) == (0, 6)
    history = (await client.get(f"{API}/jobs/{job['id']}/history", params={"per_page": 50})).json()["items"]
    backfilled = sorted(parse_instant(r["scheduledAt"]) for r in history if r["trigger"] == "backfill")
    assert backfilled == [
        start + timedelta(hours=h) for h in range(6) if start + timedelta(hours=h) != now - timedelta(hours=3)
    ]
    assert existing not in first.json()["executionIds"]


async def test_backfill_is_bounded_and_past_only(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, intervalMinutes=1))
    now = datetime.now(UTC)
    too_many = await client.post(
        f"{API}/jobs/{job['id']}/backfill",
        json={"from": (now - timedelta(days=1)).isoformat(), "to": (now - timedelta(minutes=1)).isoformat()},
    )
    future = await client.post(
        f"{API}/jobs/{job['id']}/backfill",
        json={"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()},
    )
    reversed_ = await client.post(
        f"{API}/jobs/{job['id']}/backfill",
        json={"from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()},
    )
    naive = await client.post(
        f"{API}/jobs/{job['id']}/backfill", json={"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00"}
    )
    missing = await client.post(
        f"{API}/jobs/{job['id'] + 1000}/backfill", json={"from": now.isoformat(), "to": now.isoformat()}
    )

    assert too_many.status_code == 422
    assert too_many.json()["fields"][0]["field"] == "to"
    assert "1000 slots" in too_many.json()["fields"][0]["reason"]
    assert future.status_code == 422
    assert "future" in future.json()["fields"][0]["reason"]
    assert reversed_.status_code == 422
    assert naive.status_code == 422
    assert naive.json()["fields"][0]["field"] in ("from", "to")
    assert missing.status_code == 404


# --- preview from a date -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # Spring forward: 02:00 does not exist that night; a fixed-time job runs at the transition instant.
        (
            "Europe/Berlin",
            "2027-03-27T00:00:00+00:00",
            ["2027-03-27T01:00:00+00:00", "2027-03-28T01:00:00+00:00", "2027-03-29T00:00:00+00:00"],
        ),
        # Fall back: 02:00 comes twice; it runs once, at the first.
        (
            "Europe/Berlin",
            "2027-10-30T00:00:00+00:00",
            ["2027-10-30T00:00:00+00:00", "2027-10-31T00:00:00+00:00", "2027-11-01T01:00:00+00:00"],
        ),
        (
            "America/New_York",
            "2027-03-13T00:00:00+00:00",
            ["2027-03-13T07:00:00+00:00", "2027-03-14T07:00:00+00:00", "2027-03-15T06:00:00+00:00"],
        ),
        (
            "America/New_York",
            "2027-11-06T00:00:00+00:00",
            ["2027-11-06T06:00:00+00:00", "2027-11-07T07:00:00+00:00", "2027-11-08T07:00:00+00:00"],  # 01:00 repeats
        ),
    ],
)
async def test_preview_from_a_date_shows_the_dst_days(
    client: AsyncClient, tasks: TaskIds, zone: str, start: str, expected: list[str]
) -> None:
    job = await create_job(client, cron_body(tasks.noop, cronExpression="0 2 * * *", timezone=zone))
    by_job = await client.get(f"{API}/jobs/{job['id']}/preview", params={"from": start, "count": 3})
    by_schedule = await client.post(
        f"{API}/schedule/preview", json={"cronExpression": "0 2 * * *", "timezone": zone, "from": start, "count": 3}
    )
    assert by_job.status_code == by_schedule.status_code == 200, by_job.text
    want = [datetime.fromisoformat(value) for value in expected]
    assert [parse_instant(t) for t in by_job.json()["fireTimes"]] == want
    assert [parse_instant(t) for t in by_schedule.json()["fireTimes"]] == want


async def test_preview_count_is_bounded_and_from_needs_an_offset(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    too_many = await client.get(f"{API}/jobs/{job['id']}/preview", params={"count": 51})
    naive = await client.get(f"{API}/jobs/{job['id']}/preview", params={"from": "2027-01-01T00:00:00"})
    assert too_many.status_code == 422
    assert too_many.json()["fields"][0]["field"] == "count"
    assert naive.status_code == 422
    assert naive.json()["fields"][0]["field"] == "from"


@pytest.mark.parametrize("value", [0, 0.5, "0.5", "1700000000", True])
async def test_an_instant_is_an_iso_string_never_a_unix_number(client: AsyncClient, tasks: TaskIds, value: Any) -> None:
    # Pydantic's lax datetime would read these as Unix times (1970): the schema says a date-time string.
    job = await create_job(client, interval_body(tasks.noop))
    now = datetime.now(UTC).isoformat()
    by_job = await client.get(f"{API}/jobs/{job['id']}/preview", params={"from": str(value)})
    by_schedule = await client.post(f"{API}/schedule/preview", json={"intervalMinutes": 5, "from": value})
    backfill = await client.post(f"{API}/jobs/{job['id']}/backfill", json={"from": value, "to": now})
    for response in (by_job, by_schedule, backfill):
        assert response.status_code == 422, response.text
        assert response.json()["fields"][0]["field"] == "from"
    for response in (by_schedule, backfill):  # a query's "True" is merely a malformed string
        assert "ISO 8601" in response.json()["fields"][0]["reason"]


async def test_an_interval_jobs_backfill_keeps_to_its_own_grid(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, intervalMinutes=30))
    next_slot = parse_instant(job["nextRunAt"])
    now = datetime.now(UTC)
    response = await client.post(
        f"{API}/jobs/{job['id']}/backfill",
        json={"from": (now - timedelta(hours=2)).isoformat(), "to": now.isoformat()},
    )
    assert response.status_code == 200, response.text
    history = (await client.get(f"{API}/jobs/{job['id']}/history")).json()["items"]
    slots = sorted(parse_instant(run["scheduledAt"]) for run in history)
    assert response.json()["created"] == len(slots) == 4  # 2 h of a 30-min grid, the next slot still ahead
    assert all((next_slot - slot) % timedelta(minutes=30) == timedelta(0) for slot in slots), slots
    assert all(now - timedelta(hours=2) <= slot <= now for slot in slots)

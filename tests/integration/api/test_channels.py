"""Notification channels through the API, on PostgreSQL and SQLite: create, list, read, update (partial), delete;
the secret write-only (hasSecret only); every bad input a 422 naming the field with nothing written (URL, events,
jobIds, secret, null where a value is needed); a channel's deliveries with their status; a job's
expectSuccessWithinSeconds and the silence watch it starts, stops and restarts; job.paused for an operator's pause."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.notifications import Event, EventType
from scheduler_core.store import AttemptOutcome
from tests.integration.api.support import API, TaskIds, create_job, interval_body, parse_instant
from tests.support.notifications import deliveries
from tests.support.stores import store_of_maker

Maker = async_sessionmaker[AsyncSession]
CHANNELS = f"{API}/notification-channels"
SECRET = "s3cret-of-sixteen-or-more"


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "ops", "url": "https://hooks.example.com/scheduler", "events": ["run.failed"]} | fields


async def create_channel(client: AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post(CHANNELS, json=body(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_channel_round_trips_and_its_secret_is_never_returned(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    created = await create_channel(
        client, events=["run.failed", "job.silent"], jobIds=[job["id"]], secret=SECRET, format="slack"
    )
    assert created["hasSecret"] is True
    assert "secret" not in created
    assert (created["events"], created["jobIds"], created["format"], created["enabled"]) == (
        ["run.failed", "job.silent"],
        [job["id"]],
        "slack",
        True,
    )
    assert created["updatedAt"] is None
    read = (await client.get(f"{CHANNELS}/{created['id']}")).json()
    assert read == created
    assert SECRET not in (await client.get(CHANNELS)).text

    plain = await create_channel(client)
    assert (plain["hasSecret"], plain["jobIds"], plain["format"]) == (False, None, "json")
    page = (await client.get(CHANNELS, params={"per_page": 1, "page": 2})).json()
    assert (page["total"], [c["id"] for c in page["items"]]) == (2, [plain["id"]])


async def test_an_update_changes_only_the_fields_given_and_null_clears_jobs_and_secret(
    client: AsyncClient, tasks: TaskIds
) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    channel = await create_channel(client, jobIds=[job["id"]], secret=SECRET)
    url = f"{CHANNELS}/{channel['id']}"
    updated = (await client.put(url, json={"enabled": False, "events": ["executor.lost"]})).json()
    assert (updated["enabled"], updated["events"], updated["jobIds"], updated["hasSecret"]) == (
        False,
        ["executor.lost"],
        [job["id"]],
        True,
    )
    assert updated["updatedAt"] is not None
    cleared = (await client.put(url, json={"jobIds": None, "secret": None})).json()
    assert (cleared["jobIds"], cleared["hasSecret"], cleared["name"]) == (None, False, "ops")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "hooks.example.com/x"}, "url"),
        ({"url": "https://hooks.example.com/\u0000"}, "url"),
        ({"url": "https://" + "a" * 2050}, "url"),
        ({"events": []}, "events"),
        ({"events": ["run.exploded"]}, "events.0"),
        ({"events": ["run.failed", "run.failed"]}, "events"),
        ({"jobIds": [999_999]}, "jobIds.0"),
        ({"jobIds": [0]}, "jobIds.0"),
        ({"jobIds": []}, "jobIds"),
        ({"secret": "short"}, "secret"),
        ({"format": "xml"}, "format"),
        ({"name": ""}, "name"),
        ({"enabled": "yes"}, "enabled"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_channel_is_refused_naming_the_field_and_nothing_is_written(
    client: AsyncClient, tasks: TaskIds, fields: dict[str, Any], field: str
) -> None:
    response = await client.post(CHANNELS, json=body(**fields))
    assert response.status_code == 422, response.text
    assert field in {problem["field"] for problem in response.json()["fields"]}, response.json()
    assert (await client.get(CHANNELS)).json()["total"] == 0


async def test_every_bad_field_is_named_at_once_with_a_reason_in_words(client: AsyncClient, tasks: TaskIds) -> None:
    """Reasons say what the field takes: a URL's form (not the pattern's regular expression), lengths in characters
    or items (not pydantic's "items after validation" for a text's constraint checked after another validator)."""
    fields = {"name": "", "url": "ftp://hooks.example.com/x", "events": [], "secret": "short"}
    response = await client.post(CHANNELS, json=body(**fields))
    assert response.status_code == 422, response.text
    reasons = {problem["field"]: problem["reason"] for problem in response.json()["fields"]}
    assert reasons == {
        "name": "must not be empty",
        "url": "must be an http:// or https:// URL with a host, without user:password and spaces",
        "events": "must not be empty",
        "secret": "must be at least 16 characters long",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": None}, "url"),
        ({"events": None}, "events"),
        ({"jobIds": [424_242]}, "jobIds.0"),
        ({"name": None}, "name"),
    ],
)
async def test_a_bad_update_is_refused_naming_the_field_and_changes_nothing(
    client: AsyncClient, tasks: TaskIds, fields: dict[str, Any], field: str
) -> None:
    channel = await create_channel(client)
    response = await client.put(f"{CHANNELS}/{channel['id']}", json=fields)
    assert response.status_code == 422, response.text
    assert field in {problem["field"] for problem in response.json()["fields"]}
    assert (await client.get(f"{CHANNELS}/{channel['id']}")).json() == channel


async def test_unknown_channels_are_404_and_a_deleted_one_is_gone_with_its_deliveries(
    client: AsyncClient, sessionmaker: Maker
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, f"{CHANNELS}/4242", json={} if method == "PUT" else None)
        assert response.status_code == 404, (method, response.text)
    assert (await client.get(f"{CHANNELS}/4242/deliveries")).status_code == 404
    channel = await create_channel(client, events=["executor.lost"])
    await _emit(sessionmaker, Event(EventType.EXECUTOR_LOST, await _now(sessionmaker)))
    deleted = await client.delete(f"{CHANNELS}/{channel['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["id"] == channel["id"]
    assert (await client.get(f"{CHANNELS}/{channel['id']}")).status_code == 404
    assert await deliveries(sessionmaker) == []


async def _now(sessionmaker: Maker) -> Any:
    async with sessionmaker() as session:
        return await store_of_maker(sessionmaker).clock.now(session)


async def _emit(sessionmaker: Maker, *events: Event) -> None:
    async with sessionmaker.begin() as session:
        await store_of_maker(sessionmaker).deliveries.enqueue(session, events)


async def test_a_channels_deliveries_are_listed_newest_first_with_their_status(
    client: AsyncClient, sessionmaker: Maker
) -> None:
    channel = await create_channel(client, events=["executor.lost"])
    now = await _now(sessionmaker)
    await _emit(sessionmaker, *(Event(EventType.EXECUTOR_LOST, now, data={"n": n}) for n in range(3)))
    store = store_of_maker(sessionmaker)
    async with sessionmaker.begin() as session:
        [taken] = await store.deliveries.claim_due(session, 1, lease=60)
        await store.deliveries.record(session, [AttemptOutcome(taken.id, 1, delivered=True, status_code=204)])

    url = f"{CHANNELS}/{channel['id']}/deliveries"
    listed = (await client.get(url)).json()
    assert listed["total"] == 3
    assert [d["id"] for d in listed["items"]] == sorted((d["id"] for d in listed["items"]), reverse=True)
    delivered = (await client.get(url, params={"status": "delivered"})).json()["items"]
    assert [(d["id"], d["attempts"], d["lastStatusCode"], d["nextAttemptAt"]) for d in delivered] == [
        (taken.id, 1, 204, None)
    ]
    pending = (await client.get(url, params={"status": "pending"})).json()["items"]
    assert len(pending) == 2
    assert all(d["nextAttemptAt"] is not None and d["eventType"] == "executor.lost" for d in pending)
    assert pending[0]["payload"]["id"] == pending[0]["eventId"]
    assert (await client.get(url, params={"status": "lost"})).status_code == 422


async def test_expect_success_within_seconds_starts_stops_and_restarts_the_silence_watch(
    client: AsyncClient, tasks: TaskIds
) -> None:
    unwatched = await create_job(client, interval_body(tasks.noop))
    assert (unwatched["expectSuccessWithinSeconds"], unwatched["successExpectedBy"]) == (None, None)
    job = await create_job(client, interval_body(tasks.noop, expectSuccessWithinSeconds=600))
    created_due = parse_instant(job["successExpectedBy"])
    # created_at is the database's default (the transaction's start; SQLite's whole second), a moment earlier.
    assert timedelta(seconds=600) <= created_due - parse_instant(job["createdAt"]) <= timedelta(seconds=602)
    url = f"{API}/jobs/{job['id']}"

    paused = (await client.post(f"{url}/action", json={"action": "pause"})).json()["job"]
    assert paused["successExpectedBy"] is None  # a paused job is not judged silent
    resumed = (await client.post(f"{url}/action", json={"action": "resume"})).json()["job"]
    assert parse_instant(resumed["successExpectedBy"]) >= created_due  # watched again, from the resume
    changed = (await client.put(url, json={"expectSuccessWithinSeconds": 60})).json()
    assert parse_instant(changed["successExpectedBy"]) < parse_instant(resumed["successExpectedBy"])
    cleared = (await client.put(url, json={"expectSuccessWithinSeconds": None})).json()
    assert (cleared["expectSuccessWithinSeconds"], cleared["successExpectedBy"]) == (None, None)
    for bad in (0, 31_536_001, "60", 1.5):
        response = await client.put(url, json={"expectSuccessWithinSeconds": bad})
        assert response.status_code == 422, bad
        assert response.json()["fields"][0]["field"] == "expectSuccessWithinSeconds"


async def test_an_operators_pause_is_announced_in_its_transaction(
    client: AsyncClient, tasks: TaskIds, sessionmaker: Maker
) -> None:
    await create_channel(client, events=["job.paused"])
    job = await create_job(client, interval_body(tasks.noop, nameEn="Nightly export"))
    assert (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "pause"})).status_code == 200
    assert (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "pause"})).status_code == 409
    [paused] = await deliveries(sessionmaker)
    assert paused.job_id == job["id"]
    assert paused.payload["job"]["nameEn"] == "Nightly export"
    data = paused.payload["data"]
    assert (data["reason"], data["automatic"]) == ("paused by an operator", False)
    assert data["by"] == job["createdById"]  # the caller

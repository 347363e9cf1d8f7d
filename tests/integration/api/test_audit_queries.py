"""Reading the audit trail through the API (issue 19), on PostgreSQL and SQLite: who the actor is (the token's `sub`,
the name claim and its fallbacks), where the change came from (the client and request id a trusted gateway forwards,
and only a trusted one), filters and paging by page number and by cursor against a seeded random log of changes,
refused queries, and the scheduled cleanup's own entry."""

from __future__ import annotations

import base64
import random
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, cast, get_args

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.schemas import AuditActionName
from scheduler_core.schemas.cursors import PageCursor
from scheduler_core.store import AuditAction
from scheduler_core.store.models import SchedulerAuditLog
from scheduler_core.tasks import TaskContext
from scheduler_core.tasks.builtin import CleanupParams, cleanup_history
from tests.integration.api.support import (
    API,
    INSTANCE_ID,
    TaskIds,
    Tokens,
    api_settings,
    create_job,
    interval_body,
    open_client,
)
from tests.support.factories import new_id

Maker = async_sessionmaker[AsyncSession]


async def entries(client: AsyncClient, path: str = "/audit", /, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"{API}{path}", params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def created_by(app: FastAPI, tokens: Tokens, tasks: TaskIds, claims: dict[str, Any], **headers: str) -> Any:
    """The audit entry of a job created with a token carrying these claims (and these request headers)."""
    async with open_client(app, tokens.headers(tokens.make(extra=claims)) | headers) as client:
        job = await create_job(client, interval_body(tasks.noop))
        [entry] = await entries(client, f"/jobs/{job['id']}/audit")
    return entry


# --- who and from where ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "name"),
    [
        ({"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.org"}, "Alice Example"),
        ({"preferred_username": "alice", "email": "alice@example.org"}, "alice"),
        ({"name": "  ", "email": "alice@example.org"}, "alice@example.org"),  # blank is no name
        ({"name": 42}, None),  # not text
        ({}, None),
    ],
)
async def test_the_actor_is_the_subject_and_the_name_claim_or_its_fallbacks(
    app: FastAPI, tokens: Tokens, tasks: TaskIds, claims: dict[str, Any], name: str | None
) -> None:
    entry = await created_by(app, tokens, tasks, {"sub": "alice-id"} | claims)
    assert (entry["actorSubject"], entry["actorName"]) == ("alice-id", name)


async def test_the_name_claim_is_configurable_dotted_paths_included(
    database: Database, tokens: Tokens, tasks: TaskIds
) -> None:
    app = create_app(api_settings(audit_name_claim="profile.display"), database, instance_id=INSTANCE_ID)
    claims = {"sub": "u-1", "name": "ignored", "profile": {"display": "Ops Person"}}
    assert (await created_by(app, tokens, tasks, claims))["actorName"] == "Ops Person"
    # Without the configured claim, the fallbacks still apply (not `name`: it is not one of them).
    assert (await created_by(app, tokens, tasks, {"name": "n", "email": "e@example.org"}))["actorName"] == (
        "e@example.org"
    )


async def test_a_long_subject_is_kept_whole_in_the_trail(app: FastAPI, tokens: Tokens, tasks: TaskIds) -> None:
    subject = "auth0|" + "9" * 60  # longer than created_by_id's 36 characters
    entry = await created_by(app, tokens, tasks, {"sub": subject})
    assert entry["actorSubject"] == subject


async def test_behind_a_trusted_gateway_the_client_and_request_id_are_the_forwarded_ones(
    database: Database, tokens: Tokens, tasks: TaskIds
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "gw-7f3a"}
    trusting = create_app(api_settings(forwarded_allow_ips=["127.0.0.1"]), database, instance_id=INSTANCE_ID)
    untrusting = create_app(api_settings(), database, instance_id=INSTANCE_ID)

    trusted = await created_by(trusting, tokens, tasks, {}, **forwarded)
    forged = await created_by(untrusting, tokens, tasks, {}, **forwarded)
    malformed = await created_by(trusting, tokens, tasks, {}, **{"X-Request-ID": "two words"})

    assert (trusted["clientAddress"], trusted["requestId"]) == ("203.0.113.9", "gw-7f3a")
    assert forged["clientAddress"] == "127.0.0.1"  # the peer the test client connects from
    assert forged["requestId"] not in (None, "gw-7f3a")
    assert malformed["requestId"] != "two words"  # not 1-128 visible characters: replaced by an id of our own


# --- filters and paging ------------------------------------------------------------------------------------------

ALICE = {"sub": "alice-id", "name": "Alice"}
BOB = {"sub": "bob-id", "preferred_username": "bob"}


@pytest.mark.parametrize("seed", [7, 8])
async def test_filters_and_both_kinds_of_paging_agree_with_the_changes_made(
    app: FastAPI, tokens: Tokens, tasks: TaskIds, seed: int
) -> None:
    rng = random.Random(seed)
    log: list[tuple[str, str, int]] = []  # (subject, action, job id), oldest first
    async with (
        open_client(app, tokens.headers(tokens.make(subject=None, extra=ALICE))) as alice,
        open_client(app, tokens.headers(tokens.make(subject=None, extra=BOB))) as bob,
    ):
        clients = {"alice-id": alice, "bob-id": bob}
        jobs: dict[int, dict[str, bool]] = {}
        for _ in range(3):
            who = rng.choice(list(clients))
            job = await create_job(clients[who], interval_body(tasks.noop))
            jobs[job["id"]] = {"enabled": True, "paused": False}
            log.append((who, "create", job["id"]))
        for step in range(30):
            who, job_id = rng.choice(list(clients)), rng.choice(list(jobs))
            state = jobs[job_id]
            kind = rng.choice(["update", "toggle_enabled", "toggle_paused"])
            if kind == "update":
                response = await clients[who].put(f"{API}/jobs/{job_id}", json={"nameEn": f"step {step}"})
                action = "update"
            elif kind == "toggle_enabled" or not state["enabled"]:
                action = "disable" if state["enabled"] else "enable"
                response = await clients[who].post(f"{API}/jobs/{job_id}/action", json={"action": action})
                state["enabled"] = not state["enabled"]
            else:
                action = "resume" if state["paused"] else "pause"
                response = await clients[who].post(f"{API}/jobs/{job_id}/action", json={"action": action})
                state["paused"] = not state["paused"]
            assert response.status_code == 200, response.text
            log.append((who, action, job_id))

        newest_first = list(reversed(log))
        everything = await entries(alice)
        assert [(e["actorSubject"], e["action"], e["jobId"]) for e in everything] == newest_first
        names = {"alice-id": "Alice", "bob-id": "bob"}
        assert all(e["actorName"] == names[e["actorSubject"]] for e in everything)

        for _ in range(20):
            wanted_job: int | None = rng.choice([None, *jobs])
            wanted_actor = rng.choice([None, "alice-id", "Alice", "bob-id", "bob", "nobody"])
            wanted_action = rng.choice([None, "create", "update", "enable", "disable", "pause", "resume", "trigger"])
            chosen = {"job_id": wanted_job, "actor": wanted_actor, "action": wanted_action}
            params = {k: v for k, v in chosen.items() if v is not None}
            expected = [
                row
                for row in newest_first
                if (wanted_job is None or row[2] == wanted_job)
                and (wanted_actor is None or wanted_actor in (row[0], names[row[0]]))
                and (wanted_action is None or row[1] == wanted_action)
            ]
            found = await entries(bob, **params)
            assert [(e["actorSubject"], e["action"], e["jobId"]) for e in found] == expected, params
            if wanted_job is not None:  # the job's own endpoint agrees
                own_params = {k: v for k, v in params.items() if k != "job_id"}
                own = await entries(bob, f"/jobs/{wanted_job}/audit", **own_params)
                assert own == found

        instants = [e["occurredAt"] for e in everything]
        start, end = sorted(rng.sample(instants, 2))
        in_range = await entries(alice, **{"from": start, "to": end})
        assert [e["id"] for e in in_range] == [e["id"] for e in everything if start <= e["occurredAt"] <= end]

        per_page = rng.randrange(2, 9)
        by_page: list[int] = []
        for page in range(1, len(everything) // per_page + 2):
            body = (await alice.get(f"{API}/audit", params={"page": page, "per_page": per_page})).json()
            assert (body["total"], body["page"], body["perPage"]) == (len(log), page, per_page)
            assert body["totalPages"] == -(-len(log) // per_page)
            by_page += [e["id"] for e in body["items"]]
        by_cursor: list[int] = []
        params_cursor: dict[str, Any] = {"per_page": per_page}
        while True:
            body = (await alice.get(f"{API}/audit", params=params_cursor)).json()
            by_cursor += [e["id"] for e in body["items"]]
            if body["nextCursor"] is None:
                break
            assert body["items"]
            params_cursor["cursor"] = body["nextCursor"]
            # A change recorded while paging lands before the cursor: the next page stays where it was.
            await alice.put(f"{API}/jobs/{next(iter(jobs))}", json={"nameEn": new_id()})
        assert by_page == by_cursor == [e["id"] for e in everything]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 1, "cursor": "MjAyNg"}, "cursor"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),  # base64 of "not-a-cursor"
        ({"cursor": "***"}, "cursor"),
        ({"cursor": "MDAwMS0wMS0wMVQwMDowMDowMCswNTowMHwx"}, "cursor"),  # "0001-01-01T00:00:00+05:00|1"
        ({"from": "2027-01-02T00:00:00Z", "to": "2027-01-01T00:00:00Z"}, "to"),
        ({"from": "0"}, "from"),  # a number is not an instant
        ({"from": "2027-01-01T00:00:00"}, "from"),  # no offset
        ({"from": "0001-01-01T00:00:00+05:00"}, "from"),  # before the first UTC instant
        ({"action": "destroy"}, "action"),
        ({"actor": "a\x00b"}, "actor"),
        ({"job_id": "+1"}, "job_id"),
    ],
)
async def test_a_bad_query_is_a_422_naming_the_field(client: AsyncClient, params: dict[str, Any], field: str) -> None:
    response = await client.get(f"{API}/audit", params=params)
    assert response.status_code == 422, response.text
    assert field in [problem["field"] for problem in response.json()["fields"]]


async def test_the_trail_of_an_unknown_job_is_a_404(client: AsyncClient) -> None:
    response = await client.get(f"{API}/jobs/424242/audit")
    assert response.status_code == 404


async def test_a_cursor_numbers_its_page_and_an_audit_cursor_of_an_earlier_version_still_opens_the_next_page(
    client: AsyncClient, tasks: TaskIds
) -> None:
    """The page cursor the history uses too: the answer's page is the cursor's, a `page` sent with it is ignored.
    A cursor of the earlier form (base64 of `<instant>|<id>`, no page number) a client may hold across an upgrade
    still opens the page after that entry (numbered null, as before), and the chain goes on in that form."""
    for _ in range(5):
        await create_job(client, interval_body(tasks.noop))
    everything = [e["id"] for e in await entries(client)]
    first = (await client.get(f"{API}/audit", params={"per_page": 2})).json()
    params = {"per_page": 2, "cursor": first["nextCursor"], "page": 7}
    second = (await client.get(f"{API}/audit", params=params)).json()
    assert (first["page"], second["page"]) == (1, 2)
    assert [e["id"] for e in first["items"] + second["items"]] == everything[:4]

    at = datetime.fromisoformat(first["items"][-1]["occurredAt"]).astimezone(UTC)
    old = base64.urlsafe_b64encode(f"{at.isoformat()}|{everything[1]}".encode()).decode().rstrip("=")
    response = await client.get(f"{API}/audit", params={"per_page": 2, "cursor": old})
    assert response.status_code == 200, response.text
    assert (response.json()["page"], [e["id"] for e in response.json()["items"]]) == (None, everything[2:4])
    assert PageCursor.decode(response.json()["nextCursor"], legacy=True).page is None


def test_the_api_names_every_action_the_store_records() -> None:
    assert set(get_args(AuditActionName)) == {action.value for action in AuditAction}


# --- the scheduled cleanup ----------------------------------------------------------------------------------------


async def test_the_scheduled_cleanup_deletes_old_entries_as_the_scheduler(
    client: AsyncClient, tasks: TaskIds, database: Database, sessionmaker: Maker
) -> None:
    old = await create_job(client, interval_body(tasks.noop))
    recent = await create_job(client, interval_body(tasks.noop))
    async with sessionmaker.begin() as session:
        await session.execute(
            update(SchedulerAuditLog)
            .where(SchedulerAuditLog.job_id == old["id"])
            .values(occurred_at=datetime.now(UTC) - timedelta(days=31))
        )
    execution_id = new_id()
    context = TaskContext(
        execution_id, 1, datetime.now(UTC), database.sessionmaker, database.store, audit_retention_days=30
    )

    summary = await cast(Awaitable[str], cleanup_history(context, CleanupParams()))

    assert summary.endswith("and 1 audit records older than 30 days")
    left = await entries(client)
    assert [(e["action"], e["jobId"]) for e in left] == [("cleanup", None), ("create", recent["id"])]
    cleanup = left[0]
    assert (cleanup["actorSubject"], cleanup["actorName"], cleanup["requestId"]) == (None, "scheduler", execution_id)
    assert cleanup["target"] == "retentionDays=30 auditRetentionDays=30"

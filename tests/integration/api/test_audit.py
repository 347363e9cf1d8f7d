"""The audit trail through the API (issue 19), on PostgreSQL and SQLite: a row for every change with its diff (create,
update, delete, enable, disable, pause, resume, trigger, cancel, rerun, backfill, cleanup), written in the change's
transaction (a refused or failing change leaves none, and a failing audit write undoes the change); the actor from the
token's `sub` and name claims; the client address and request id behind a trusted gateway; filters and paging by page
and by cursor, checked against a seeded random log of changes; retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.store.models import SchedulerAuditLog
from tests.integration.api.support import (
    API,
    SUBJECT,
    TaskIds,
    Tokens,
    create_job,
    interval_body,
    parse_instant,
)

Maker = async_sessionmaker[AsyncSession]


async def trail(client: AsyncClient, job_id: int | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every entry (of one job, or of all), oldest first."""
    path = f"{API}/jobs/{job_id}/audit" if job_id is not None else f"{API}/audit"
    response = await client.get(path, params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


async def audit_rows(sessionmaker: Maker) -> list[SchedulerAuditLog]:
    async with sessionmaker() as session:
        return list((await session.execute(select(SchedulerAuditLog).order_by(SchedulerAuditLog.id))).scalars())


async def post_action(client: AsyncClient, job_id: int, action: str) -> dict[str, Any]:
    response = await client.post(f"{API}/jobs/{job_id}/action", json={"action": action})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --- every change, with its diff -------------------------------------------------------------------------------


async def test_every_change_to_a_job_is_recorded_with_what_changed(client: AsyncClient, tasks: TaskIds) -> None:
    job = await create_job(client, interval_body(tasks.noop, nameEn="nightly export"))
    job_id = job["id"]
    renamed = await client.put(f"{API}/jobs/{job_id}", json={"nameEn": "export", "priority": 3, "maxInstances": 1})
    unchanged = await client.put(f"{API}/jobs/{job_id}", json={"nameEn": "export"})
    assert (renamed.status_code, unchanged.status_code) == (200, 200)
    for action in ("disable", "enable", "pause", "resume"):
        await post_action(client, job_id, action)
    triggered = (await post_action(client, job_id, "trigger"))["executionId"]
    cancel = await client.post(f"{API}/jobs/{job_id}/executions/{triggered}/action", json={"action": "cancel"})
    rerun = await client.post(f"{API}/jobs/{job_id}/executions/{triggered}/action", json={"action": "rerun"})
    assert (cancel.status_code, rerun.status_code) == (200, 200), (cancel.text, rerun.text)
    rerun_id = rerun.json()["execution"]["executionId"]
    now = parse_instant(job["createdAt"])
    window = {"from": (now - timedelta(hours=2)).isoformat(), "to": (now - timedelta(minutes=1)).isoformat()}
    backfill = await client.post(f"{API}/jobs/{job_id}/backfill", json=window)
    assert backfill.status_code == 200
    assert backfill.json()["created"] >= 1
    deleted = await client.delete(f"{API}/jobs/{job_id}")
    assert deleted.status_code == 200

    entries = await trail(client, job_id)

    assert [e["action"] for e in entries] == [
        "create",
        "update",  # the second PUT changed nothing: no entry
        "disable",
        "enable",
        "pause",
        "resume",
        "trigger",
        "cancel",
        "rerun",
        "backfill",
        "delete",
    ]
    created, updated, disabled, enabled, paused, resumed, trigger, cancelled, rerun_entry, backfilled, gone = entries
    assert created["changes"]["nameEn"] == {"before": None, "after": "nightly export"}
    assert created["changes"]["intervalMinutes"] == {"before": None, "after": 30}
    assert created["changes"]["isEnabled"] == {"before": None, "after": True}
    assert "cronExpression" not in created["changes"]  # null before and after: no change
    assert updated["changes"] == {
        "nameEn": {"before": "nightly export", "after": "export"},
        "priority": {"before": 0, "after": 3},
    }
    assert disabled["changes"] == {"isEnabled": {"before": True, "after": False}}
    assert enabled["changes"] == {"isEnabled": {"before": False, "after": True}}
    assert paused["changes"] == {"isPaused": {"before": False, "after": True}}
    assert resumed["changes"] == {"isPaused": {"before": True, "after": False}}
    assert (trigger["target"], trigger["changes"]) == (triggered, None)
    assert cancelled["target"] == triggered
    assert cancelled["changes"]["statusName"] == {"before": "pending", "after": "cancelled"}
    assert set(cancelled["changes"]) == {"statusName", "cancelRequestedAt", "cancelledBy"}
    assert (rerun_entry["target"], rerun_entry["changes"]) == (
        rerun_id,
        {"rerunOf": {"before": None, "after": triggered}},
    )
    assert backfilled["target"] == f"{window['from']}/{window['to']}"
    assert gone["changes"] == {"isActive": {"before": True, "after": False}}
    for entry in entries:
        assert entry["jobId"] == job_id
        assert (entry["actorSubject"], entry["actorName"], entry["clientAddress"]) == (SUBJECT, None, "127.0.0.1")
        assert entry["requestId"]
    instants = [parse_instant(e["occurredAt"]) for e in entries]
    assert instants == sorted(instants)


async def test_the_request_id_of_a_change_is_the_one_answered(client: AsyncClient, tasks: TaskIds) -> None:
    response = await client.post(f"{API}/jobs", json=interval_body(tasks.noop))
    [entry] = await trail(client, response.json()["id"])
    assert entry["requestId"] == response.headers["X-Request-ID"]


async def test_secrets_in_parameters_are_redacted_but_their_change_is_recorded(
    client: AsyncClient, tasks: TaskIds
) -> None:
    def params(token: str) -> dict[str, Any]:
        return {"url": "https://example.org/hook", "headers": {"Authorization": f"Bearer {token}", "X-Team": "ops"}}

    job = await create_job(client, interval_body(tasks.http_request, parameters=params("first-secret")))
    response = await client.put(f"{API}/jobs/{job['id']}", json={"parameters": params("second-secret")})
    assert response.status_code == 200

    created, updated = await trail(client, job["id"])
    redacted = {"url": "https://example.org/hook", "headers": {"Authorization": "[redacted]", "X-Team": "ops"}}
    assert created["changes"]["parameters"] == {"before": None, "after": redacted}
    assert updated["changes"] == {"parameters": {"before": redacted, "after": redacted}}
    assert "secret" not in str(await trail(client))


async def test_cleanup_is_recorded_with_its_retention(client: AsyncClient, tasks: TaskIds, sessionmaker: Maker) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await age_audit(sessionmaker, days=400)  # the create entry is now past the audit retention (365 days)

    answer = (await client.post(f"{API}/cleanup", json={"retentionDays": 30})).json()

    assert answer["deletedAuditCount"] == 1
    [entry] = await trail(client)
    assert (entry["action"], entry["jobId"], entry["actorSubject"]) == ("cleanup", None, SUBJECT)
    assert entry["target"] == "retentionDays=30 auditRetentionDays=365"
    assert await trail(client, job["id"]) == []
    # Nothing left to delete: a cleanup that changes nothing leaves no entry.
    again = (await client.post(f"{API}/cleanup")).json()
    assert (again["deletedCount"], again["deletedAuditCount"]) == (0, 0)
    assert len(await trail(client)) == 1


async def age_audit(sessionmaker: Maker, *, days: int) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(update(SchedulerAuditLog).values(occurred_at=datetime.now(UTC) - timedelta(days=days)))


# --- the same transaction ---------------------------------------------------------------------------------------


async def test_a_refused_change_leaves_no_entry(client: AsyncClient, tasks: TaskIds, sessionmaker: Maker) -> None:
    job = await create_job(client, interval_body(tasks.noop))
    await post_action(client, job["id"], "disable")
    before = len(await audit_rows(sessionmaker))

    # Each passes the schema and is refused by the service, after it took the job's row lock.
    too_high = await client.put(f"{API}/jobs/{job['id']}", json={"nameEn": "x", "priority": 11})  # max 10
    bad_params = await client.put(f"{API}/jobs/{job['id']}", json={"taskFunctionId": tasks.inactive})
    pause_disabled = await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "pause"})
    disable_again = await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "disable"})
    unknown_job = await client.put(f"{API}/jobs/999999", json={"nameEn": "x"})

    statuses = [r.status_code for r in (too_high, bad_params, pause_disabled, disable_again, unknown_job)]
    assert statuses == [422, 422, 409, 409, 404]
    assert len(await audit_rows(sessionmaker)) == before
    assert (await client.get(f"{API}/jobs/{job['id']}")).json()["nameEn"] == job["nameEn"]


@asynccontextmanager
async def tolerant_client(app: FastAPI, tokens: Tokens) -> AsyncIterator[AsyncClient]:
    """A client that gets the app's own 500 answer instead of the exception (ServerErrorMiddleware re-raises)."""
    async with (
        LifespanManager(app) as manager,
        AsyncClient(
            transport=ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://testserver",
            headers=tokens.headers(),
        ) as client,
    ):
        yield client


async def refuse_audit_writes(engine: AsyncEngine) -> None:
    """A database trigger that fails every insert into the audit table: a real database error, mid-transaction."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"
            )
            await connection.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON scheduler_audit_log "
                "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
            )
        else:
            await connection.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON scheduler_audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
            )


async def allow_audit_writes(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("DROP TRIGGER refuse_audit ON scheduler_audit_log")
            await connection.exec_driver_sql("DROP FUNCTION refuse_audit()")
        else:
            await connection.exec_driver_sql("DROP TRIGGER refuse_audit")


async def test_a_failing_audit_write_undoes_the_change(
    app: FastAPI, tokens: Tokens, tasks: TaskIds, engine: AsyncEngine, sessionmaker: Maker
) -> None:
    async with tolerant_client(app, tokens) as client:
        job = await create_job(client, interval_body(tasks.noop, nameEn="kept"))
        await refuse_audit_writes(engine)
        try:
            update_answer = await client.put(f"{API}/jobs/{job['id']}", json={"nameEn": "lost"})
            pause_answer = await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "pause"})
            create_answer = await client.post(f"{API}/jobs", json=interval_body(tasks.noop))
        finally:
            await allow_audit_writes(engine)
        after = (await client.get(f"{API}/jobs/{job['id']}")).json()
        listed = (await client.get(f"{API}/jobs")).json()

    assert [r.status_code for r in (update_answer, pause_answer, create_answer)] == [500, 500, 500]
    assert (after["nameEn"], after["isPaused"]) == ("kept", False)
    assert listed["total"] == 1
    assert [row.action for row in await audit_rows(sessionmaker)] == ["create"]


async def fail_renames_at_commit(engine: AsyncEngine) -> None:
    """Renaming a job to REFUSED_AT_COMMIT fails only when its transaction commits: PostgreSQL, a deferred
    constraint trigger; SQLite, a row that breaks a deferred foreign key (checked at COMMIT)."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql(
                "CREATE FUNCTION refuse_rename() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.name_en = '{REFUSED_AT_COMMIT}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
            )
            await connection.exec_driver_sql(
                "CREATE CONSTRAINT TRIGGER refuse_rename AFTER UPDATE ON scheduled_job "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_rename()"
            )
        else:
            await connection.exec_driver_sql(
                "CREATE TABLE commit_guard (job_id INTEGER REFERENCES scheduled_job (id) DEFERRABLE INITIALLY DEFERRED)"
            )
            await connection.exec_driver_sql(
                f"CREATE TRIGGER refuse_rename AFTER UPDATE ON scheduled_job WHEN NEW.name_en = '{REFUSED_AT_COMMIT}' "
                "BEGIN INSERT INTO commit_guard VALUES (-1); END"
            )


async def allow_renames(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("DROP TRIGGER refuse_rename ON scheduled_job")
            await connection.exec_driver_sql("DROP FUNCTION refuse_rename()")
        else:
            await connection.exec_driver_sql("DROP TRIGGER refuse_rename")
            await connection.exec_driver_sql("DROP TABLE commit_guard")


REFUSED_AT_COMMIT = "refused at commit"


async def test_a_change_that_fails_at_commit_leaves_no_entry(
    app: FastAPI, tokens: Tokens, tasks: TaskIds, engine: AsyncEngine, sessionmaker: Maker
) -> None:
    """The converse: the audit row is written, then the transaction fails at its commit, so neither the change nor
    its row remains."""
    async with tolerant_client(app, tokens) as client:
        job = await create_job(client, interval_body(tasks.noop, nameEn="kept"))
        await fail_renames_at_commit(engine)
        try:
            answer = await client.put(f"{API}/jobs/{job['id']}", json={"nameEn": REFUSED_AT_COMMIT})
        finally:
            await allow_renames(engine)
        after = (await client.get(f"{API}/jobs/{job['id']}")).json()

    assert answer.status_code == 500
    assert after["nameEn"] == "kept"
    assert [row.action for row in await audit_rows(sessionmaker)] == ["create"]

"""Operability: /healthz, /readyz, /metrics, OpenAPI and docs, JSON errors everywhere, the dashboard at "/"."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import scheduler_api
from scheduler_api.app import create_app
from scheduler_api.dashboard import PACKAGED_DIST, SOURCE_TREE_DIST, dashboard_candidates
from scheduler_core.bootstrap import Database
from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import NewExecution
from scheduler_core.store.engine import create_engine
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
from tests.support.databases import autovacuum_disabled, server_setting
from tests.support.factories import interval_job


async def test_healthz_needs_no_token(anonymous: AsyncClient) -> None:
    response = await anonymous.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_checks_the_database(anonymous: AsyncClient, engine: AsyncEngine) -> None:
    response = await anonymous.get("/readyz")

    assert response.status_code == 200
    assert {key: response.json()[key] for key in ("ready", "checks")} == {"ready": True, "checks": {"database": True}}
    # What the (shared) test server's own configuration calls for; never changed by a test.
    expected = (
        []
        if engine.dialect.name != "postgresql" or await server_setting(engine, "autovacuum") == "on"
        else ["autovacuum_off"]
    )
    assert [warning["code"] for warning in response.json()["warnings"]] == expected


async def test_readyz_warns_of_a_table_without_autovacuum_and_stays_ready(
    anonymous: AsyncClient, engine: AsyncEngine
) -> None:
    if engine.dialect.name != "postgresql":
        return  # SQLite has no autovacuum
    async with autovacuum_disabled(engine, "scheduled_job_execution_default"):
        response = await anonymous.get("/readyz")
    after = await anonymous.get("/readyz")

    assert (response.status_code, response.json()["ready"]) == (200, True)
    [warning] = [w for w in response.json()["warnings"] if w["code"] == "table_autovacuum_disabled"]
    assert warning["check"] == "database"
    assert "scheduled_job_execution_default" in warning["message"]  # a partition: the executions have no options
    assert "table_autovacuum_disabled" not in {w["code"] for w in after.json()["warnings"]}


async def test_readyz_is_503_while_the_broker_is_down(database: Database) -> None:
    async def broker_down() -> bool:
        return False

    async def broker_hangs() -> bool:
        raise ConnectionError("connection refused")

    for ping in (broker_down, broker_hangs):
        app = create_app(api_settings(), database, instance_id=INSTANCE_ID, broker_ping=ping)
        async with open_client(app) as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"ready": False, "checks": {"database": True, "broker": False}, "warnings": []}


async def test_readyz_is_503_while_the_database_is_down() -> None:
    async def broker_up() -> bool:
        return True

    gone = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=1)
    try:
        unreachable = Database.of(gone)
        app = create_app(api_settings(), unreachable, instance_id=INSTANCE_ID, broker_ping=broker_up)
        async with open_client(app) as client:
            response = await client.get("/readyz")
    finally:
        await gone.dispose()

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": False, "broker": True}


async def test_metrics_count_requests_by_handler(database: Database, tokens: Tokens) -> None:
    metrics = Metrics()
    app = create_app(api_settings(), database, instance_id=INSTANCE_ID, metrics=metrics)
    async with open_client(app, tokens.headers()) as client:
        await client.get(f"{API}/jobs/1")
        await client.get(f"{API}/jobs/2")
        await client.get("/no/such/path")
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'scheduler_api_requests_total{handler="get_job",method="GET",status="404"} 2.0' in text
    # (no dashboard built here: a page path is the 503 page saying how to build it)
    assert 'scheduler_api_requests_total{handler="unmatched",method="GET",status="503"} 1.0' in text
    assert "scheduler_api_request_duration_seconds_bucket" in text
    assert "scheduler_runs_total" in text  # the shared registry of the scheduler's own metrics


def gauges(text: str) -> dict[str, float]:
    """The samples of a Prometheus text page, by name with labels."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_metrics_report_the_schedulers_state_read_from_the_database(database: Database) -> None:
    async with database.sessionmaker.begin() as session:
        store = database.store
        now = await store.clock.now(session)
        # Behind by 30 s; a paused job 10 minutes behind does not count (no timekeeper would take it).
        await interval_job(session, next_run_at=now - timedelta(seconds=30))
        await interval_job(session, next_run_at=now - timedelta(minutes=10), is_paused=True)
        job = await interval_job(session, next_run_at=None)
        await store.outbox.add(
            session,
            [
                NewExecution(str(uuid.uuid4()), job.id, now - timedelta(seconds=12)),
                NewExecution(str(uuid.uuid4()), job.id, now - timedelta(seconds=2)),
                NewExecution(str(uuid.uuid4()), job.id, now + timedelta(seconds=60)),  # not due yet
            ],
        )
        await store.instances.register(
            session,
            {"id": str(uuid.uuid4()), "instance_name": "t", "host_name": "h", "process_id": 1, "mode": "standalone"}
            | {"role": "timekeeper"},
        )

    async def seven_ready() -> int:
        return 7

    app = create_app(api_settings(), database, instance_id=INSTANCE_ID, queue_depth=seven_ready)
    async with open_client(app) as client:
        samples = gauges((await client.get("/metrics")).text)

    assert 30 <= samples["scheduler_timekeeper_lag_seconds"] < 40
    assert samples["scheduler_queue_depth"] == 2
    assert 12 <= samples["scheduler_queue_age_seconds"] < 22
    assert samples['scheduler_instances_live{role="timekeeper"}'] == 1
    assert samples['scheduler_instances_live{role="executor"}'] == 0  # a 0, not a missing series
    assert samples["scheduler_queue_messages_ready"] == 7


async def test_metrics_export_no_state_they_could_not_read(database: Database) -> None:
    async def broker_down() -> int:
        raise ConnectionError("connection refused")

    app = create_app(api_settings(), database, instance_id=INSTANCE_ID, queue_depth=broker_down)
    async with open_client(app) as client:
        samples = gauges((await client.get("/metrics")).text)
    # The broker's count is missing; what the database said stands.
    assert "scheduler_queue_messages_ready" not in samples
    assert samples["scheduler_queue_depth"] == 0

    gone = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=1)
    try:
        app = create_app(api_settings(), Database.of(gone), instance_id=INSTANCE_ID)
        async with open_client(app) as client:
            response = await client.get("/metrics")
    finally:
        await gone.dispose()
    assert response.status_code == 200
    assert "scheduler_runs_total" in response.text
    assert not any(
        name.startswith(("scheduler_queue_depth", "scheduler_instances_live")) for name in gauges(response.text)
    )


async def test_openapi_documents_every_route_with_auth_and_errors(anonymous: AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()

    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schema["components"]["securitySchemes"]["HTTPBearer"]["description"],
    }
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith(API)
        for method, operation in item.items()
    ]
    assert len(operations) >= 15
    for path, method, operation in operations:
        assert operation["security"] == [{"HTTPBearer": []}], (path, method)
        assert {"401", "403"} <= set(operation["responses"]), (path, method)
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    job = schema["components"]["schemas"]["ScheduledJobResponse"]["properties"]
    assert {"nextRunAt", "lastRunAt", "taskFunctionKey", "jobTypeName", "isPrimary"} <= set(job)


async def test_docs_are_served(anonymous: AsyncClient) -> None:
    response = await anonymous.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_unknown_paths_and_methods_get_json_errors(client: AsyncClient) -> None:
    missing = await client.get(f"{API}/nothing-here")
    wrong_method = await client.patch(f"{API}/jobs")

    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


def broken(database: Database, failure: Exception) -> Database:
    """The database with a store whose job counts fail: a bug (RuntimeError) or an unreachable database."""
    jobs = copy.copy(database.store.jobs)

    async def count(session: AsyncSession) -> tuple[int, int]:
        raise failure

    jobs.count = count  # type: ignore[method-assign]
    return dataclasses.replace(database, store=dataclasses.replace(database.store, jobs=jobs))


async def status_of_broken_app(database: Database, tokens: Tokens, failure: Exception) -> Response:
    """GET /status from an app whose store fails; the client shows the app's own 500 answer instead of
    re-raising the exception (ServerErrorMiddleware re-raises after answering, for the server to log)."""
    app = create_app(api_settings(), broken(database, failure), instance_id=INSTANCE_ID)
    async with (
        LifespanManager(app) as manager,
        AsyncClient(
            transport=ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://testserver",
            headers=tokens.headers(),
        ) as client,
    ):
        return await client.get(f"{API}/status")


async def test_an_unexpected_error_is_a_json_500(database: Database, tokens: Tokens) -> None:
    response = await status_of_broken_app(database, tokens, RuntimeError("bug"))

    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "internal server error", "fields": []}


async def test_an_unreachable_database_is_a_json_503(database: Database, tokens: Tokens) -> None:
    failure = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    response = await status_of_broken_app(database, tokens, failure)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "service_unavailable"


# --- dashboard ---------------------------------------------------------------------------------------


@pytest.fixture
def dashboard(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>Scheduler</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log('scheduler')")
    return tmp_path


async def test_the_dashboard_is_served_at_the_root(database: Database, tokens: Tokens, dashboard: Path) -> None:
    app = create_app(api_settings(dashboard_dir=dashboard), database, instance_id=INSTANCE_ID)
    async with open_client(app, tokens.headers()) as client:
        root = await client.get("/")
        asset = await client.get("/assets/app.js")
        client_route = await client.get("/jobs/42/history")
        missing_asset = await client.get("/assets/missing.js")
        api_miss = await client.get(f"{API}/nothing-here")
        api_hit = await client.get(f"{API}/job-types")
        health = await client.get("/healthz")

    assert (root.status_code, root.text) == (200, "<!doctype html><title>Scheduler</title>")
    assert (asset.status_code, asset.text) == (200, "console.log('scheduler')")
    assert (client_route.status_code, client_route.text) == (200, root.text)  # the SPA routes it
    assert missing_asset.status_code == 404
    assert (api_miss.status_code, api_miss.json()["error"]) == (404, "not_found")
    assert api_hit.status_code == 200
    assert health.json() == {"status": "ok"}


async def test_without_a_build_every_page_path_says_how_to_build_it(database: Database, tmp_path: Path) -> None:
    app = create_app(api_settings(dashboard_dir=tmp_path), database, instance_id=INSTANCE_ID)
    async with open_client(app) as client:
        root = await client.get("/")
        deep_link = await client.get("/jobs/42")
        head = await client.head("/")
        post = await client.post("/")
        api_miss = await client.get(f"{API}/nothing-here")
        asset = await client.get("/assets/app.js")

    for page in (root, deep_link):
        assert page.status_code == 503
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "The dashboard is not built" in page.text
        assert "<code>make dashboard</code>" in page.text
        assert str(tmp_path) in page.text, "names where it looked"
        assert "script-src 'self'" in page.headers["content-security-policy"], "the page policy, no inline script"
        assert "<script" not in page.text
    assert (head.status_code, head.content) == (503, b"")
    assert head.headers["content-length"] == root.headers["content-length"]
    assert (post.status_code, post.json()["error"]) == (405, "method_not_allowed")
    assert (api_miss.status_code, api_miss.json()["error"]) == (404, "not_found"), "API paths stay JSON"
    assert (asset.status_code, asset.json()["error"]) == (404, "not_found"), "as a missing asset of a build"


async def test_the_build_is_looked_for_in_the_package_then_the_source_tree(tmp_path: Path) -> None:
    assert dashboard_candidates(api_settings(dashboard_dir=tmp_path)) == [tmp_path], "a named directory only"
    assert dashboard_candidates(api_settings(dashboard_dir=None)) == [PACKAGED_DIST, SOURCE_TREE_DIST]
    assert PACKAGED_DIST.parent == Path(scheduler_api.__file__).parent


async def test_runs_the_api_cancels_before_they_start_are_counted(
    database: Database, tokens: Tokens, tasks: TaskIds
) -> None:
    metrics = Metrics()
    app = create_app(api_settings(), database, instance_id=INSTANCE_ID, metrics=metrics)
    async with open_client(app, tokens.headers()) as client:
        job = await create_job(client, interval_body(tasks.noop, maxInstances=2))
        runs = [
            (await client.post(f"{API}/jobs/{job['id']}/action", json={"action": "trigger"})).json()["executionId"]
            for _ in range(2)
        ]
        cancelled = await client.post(f"{API}/jobs/{job['id']}/executions/{runs[0]}/action", json={"action": "cancel"})
        deleted = await client.delete(f"{API}/jobs/{job['id']}")  # cancels the other, not started either
        history = (await client.get(f"{API}/history")).json()["items"]

    assert cancelled.status_code == 200, cancelled.text
    assert deleted.status_code == 200, deleted.text
    assert sorted(row["statusName"] for row in history) == ["cancelled", "cancelled"]
    assert metrics.registry.get_sample_value("scheduler_runs_total", {"status": "cancelled"}) == 2

"""The database's maintenance switched off (PostgreSQL's autovacuum, here disabled on the executions table only:
the shared server's configuration is never changed) is noticed by every service: a warning in the log when it
opens the database, and in /readyz of the timekeeper's and executor's health port, which stays ready."""

from __future__ import annotations

import structlog
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.bootstrap import Database, open_database
from scheduler_core.observability.health import health_app
from scheduler_core.observability.metrics import Metrics
from scheduler_core.settings import Settings
from tests.support.databases import autovacuum_disabled


async def test_opening_the_database_logs_each_maintenance_warning(pg_engine: AsyncEngine, postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url)
    async with autovacuum_disabled(pg_engine, "scheduled_job_execution_default"):
        with structlog.testing.capture_logs() as logged:
            async with open_database(settings, migrate=False):
                pass
    with structlog.testing.capture_logs() as after:
        async with open_database(settings, migrate=False):
            pass

    warned = [entry for entry in logged if entry["event"] == "database_maintenance_off"]
    assert {entry["log_level"] for entry in warned} == {"warning"}
    assert "table_autovacuum_disabled" in {entry["code"] for entry in warned}
    assert "table_autovacuum_disabled" not in {e.get("code") for e in after if e["event"] == "database_maintenance_off"}


async def test_the_health_port_lists_the_warnings_and_stays_ready(pg_engine: AsyncEngine) -> None:
    database = Database.of(pg_engine)

    async def broker_up() -> bool:
        return True

    async def broker_down() -> bool:
        return False

    ready = health_app(Metrics(), {"database": database.ping, "broker": broker_up}, database.readiness_warnings)
    unready = health_app(Metrics(), {"database": database.ping, "broker": broker_down}, database.readiness_warnings)
    async with autovacuum_disabled(pg_engine, "scheduled_job_execution_default"):
        async with AsyncClient(transport=ASGITransport(ready), base_url="http://health") as client:
            answer = await client.get("/readyz")
        async with AsyncClient(transport=ASGITransport(unready), base_url="http://health") as client:
            down = await client.get("/readyz")

    assert (answer.status_code, answer.json()["ready"], answer.json()["checks"]) == (
        200,
        True,
        {"database": True, "broker": True},
    )
    assert {"check": "database", "code": "table_autovacuum_disabled"}.items() <= answer.json()["warnings"][-1].items()
    assert (down.status_code, down.json()["warnings"]) == (503, [])  # warnings once every dependency answers

"""Real databases for the tests: a fresh PostgreSQL database per test run (created and dropped here), and
a SQLite file. The PostgreSQL server comes from SCHEDULER_TEST_POSTGRES_URL (default: the local server);
where that variable is unset and a Docker engine answers, a throw-away container is used instead."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.engine import create_engine
from scheduler_core.store.migration import upgrade

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _docker_reachable() -> bool:
    return Path("/var/run/docker.sock").exists() or bool(os.environ.get("DOCKER_HOST"))


@asynccontextmanager
async def postgres_server() -> AsyncIterator[str]:
    """URL of a PostgreSQL server's maintenance database."""
    configured = os.environ.get("SCHEDULER_TEST_POSTGRES_URL")
    if configured or not _docker_reachable():
        yield configured or DEFAULT_POSTGRES_URL
        return
    from testcontainers.postgres import PostgresContainer  # only where a Docker engine exists

    with PostgresContainer("postgres:15", driver="asyncpg") as container:
        yield container.get_connection_url()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_postgres_database(server_url: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    name = f"jstest_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            await migrate_url(url)
        yield url
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrate_url(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


TABLES_IN_DELETE_ORDER = (
    "notification_deliveries",
    "notification_channels",
    "scheduled_job_lock",
    "scheduled_job_execution",
    "scheduled_job",
    "task_function",
    "scheduler_instance",
    "scheduler_audit_log",
)


async def empty_tables(engine: AsyncEngine) -> None:
    """Remove every row but the seeded lookups, between tests."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql(f"TRUNCATE {', '.join(TABLES_IN_DELETE_ORDER)} RESTART IDENTITY CASCADE")
        else:
            for table in TABLES_IN_DELETE_ORDER:
                await connection.exec_driver_sql(f"DELETE FROM {table}")


@asynccontextmanager
async def autovacuum_disabled(engine: AsyncEngine, table: str, spelling: str = "false") -> AsyncIterator[None]:
    """The table's autovacuum switched off (a storage parameter of that table only; the server's configuration is
    never touched), and reset afterwards: the test database is shared by the whole run."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = {spelling})")
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


async def server_setting(engine: AsyncEngine, name: str) -> str:
    """A PostgreSQL setting as the server runs it (e.g. autovacuum: on or off)."""
    async with engine.connect() as connection:
        return str((await connection.exec_driver_sql(f"SHOW {name}")).scalar_one())


# A backend of this database (not the one asking) waiting for a heavyweight lock: a row, a table or an advisory
# lock (wait_event_type 'Lock'; a lightweight LWLock is not a wait on another transaction).
_LOCK_WAITERS_SQL = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
"""


async def blocked_on_a_lock(engine: AsyncEngine, task: asyncio.Future[Any], timeout: float = 10.0) -> bool:
    """True once a backend of the engine's database is seen waiting on a lock while `task` is still pending; False
    if the task ended first (it did not wait). Polls pg_stat_activity every 20 ms; raises after `timeout` seconds
    with neither. Only meaningful while `task` is the one statement of the test that can wait on a lock."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not task.done():
        async with engine.connect() as connection:
            if (await connection.exec_driver_sql(_LOCK_WAITERS_SQL)).scalar_one() and not task.done():
                return True
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the task neither ended nor waited on a lock within {timeout} s")
        await asyncio.sleep(0.02)
    return False

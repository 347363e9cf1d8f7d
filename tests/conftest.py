"""Fixtures shared by every suite. Databases are real: PostgreSQL (a database created for this test run
and dropped after it) and SQLite (a file in a temporary directory)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.store import Store
from scheduler_core.store.engine import create_engine, create_sessionmaker
from tests.support.databases import (
    empty_tables,
    fresh_postgres_database,
    migrate_url,
    postgres_server,
    sqlite_url,
)
from tests.support.measurements import keep
from tests.support.rabbit import RabbitAdmin
from tests.support.stores import store_for

BACKENDS = ("postgresql", "sqlite")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return os.environ.get("SCHEDULER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[RabbitAdmin]:
    """RabbitMQ side channel; every queue it hands out is deleted after the test."""
    admin = RabbitAdmin(amqp_url)
    yield admin
    if admin.queue_names:
        await admin.delete_queues()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A migrated PostgreSQL database for the whole test run."""
    async with postgres_server() as server, fresh_postgres_database(server) as url:
        yield url


@pytest.fixture(scope="session")
async def sqlite_file_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "scheduler.db"
    url = sqlite_url(path)
    await migrate_url(url)
    return url


@pytest.fixture(scope="session")
async def engines(postgres_url: str, sqlite_file_url: str) -> AsyncIterator[dict[str, AsyncEngine]]:
    created = {
        "postgresql": create_engine(postgres_url, pool_size=5),
        "sqlite": create_engine(sqlite_file_url),
    }
    yield created
    for engine in created.values():
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, engines: dict[str, AsyncEngine]) -> AsyncEngine:
    """Each test that uses it runs once on PostgreSQL and once on SQLite, on empty tables."""
    selected = engines[request.param]
    await empty_tables(selected)
    return selected


@pytest.fixture
async def pg_engine(engines: dict[str, AsyncEngine]) -> AsyncEngine:
    """PostgreSQL only (concurrency tests that need real row locks)."""
    await empty_tables(engines["postgresql"])
    return engines["postgresql"]


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def store(engine: AsyncEngine) -> Store:
    """The store of the `engine` fixture's backend (so, each test that uses it runs on both)."""
    return store_for(engine)


@pytest.fixture
def pg_store(pg_engine: AsyncEngine) -> Store:
    return store_for(pg_engine)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    """What a test measured (tests/support/measurements.py) is kept only once it passed."""
    report = yield
    if call.when == "call":
        keep(getattr(report, "passed", False))
    return report

"""Fixtures of the fault scenarios: a fresh queue, the roles as real processes on it (stopped afterwards) or in
this process, and the test tasks registered so that jobs can be created before any executor runs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.cluster import Cluster, kill_leftovers, register_test_tasks
from tests.support.outages import restore_left_down
from tests.support.pipeline import Pipeline, pipeline
from tests.support.rabbit import RabbitAdmin


@pytest.fixture
async def cluster(
    pg_engine: AsyncEngine, postgres_url: str, amqp_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> AsyncIterator[Cluster]:
    queue = f"faults-{uuid.uuid4().hex}"
    rabbit.queue_names.append(queue)
    await register_test_tasks(pg_engine)
    built = Cluster(postgres_url, amqp_url, queue, tmp_path)
    try:
        yield built
    finally:
        await built.stop()


@pytest.fixture
async def local(cluster: Cluster, rabbit: RabbitAdmin) -> AsyncIterator[Pipeline]:
    """Timekeepers and executors in this process (each with its own engine and broker connection) on the
    cluster's queue: for the roles a scenario does not kill, they start in milliseconds where a process takes
    seconds to import on this machine."""
    async with pipeline(cluster.database_url, rabbit.broker_factory(cluster.queue)) as built:
        yield built


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """Safety net for a test interrupted inside an outage (a timeout): restore the servers before the fixtures'
    teardown needs them, and kill the role processes that teardown could not stop."""
    restore_left_down()
    try:
        return (yield)
    finally:
        kill_leftovers()

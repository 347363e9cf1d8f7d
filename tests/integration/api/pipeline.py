"""The API with the real pipeline behind it, as embedded mode runs it: an executor, a timekeeper whose outbox relay
is woken by the API's on_schedule_change, an in-memory broker. For tests that trigger runs and read their outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.broker import InMemoryBroker
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.metrics import Metrics
from scheduler_core.tasks import TaskRegistry
from scheduler_core.wakeup import LocalWakeup
from scheduler_executor.executor import Executor
from scheduler_timekeeper.service import TimekeeperService
from tests.integration.api.support import API, Tokens, api_settings, open_client
from tests.support.configs import executor_config, timekeeper_config
from tests.support.pipeline import FencedInTest

# Seconds a triggered run may take to reach its final status (it takes milliseconds when all is well).
RUN_DEADLINE_S = 15.0
POLL_INTERVAL_S = 0.05


@dataclass
class Pipeline:
    client: AsyncClient
    executor_id: str
    task_ids: dict[str, int]
    app: FastAPI  # its lifespan runs (the client's); serve it over HTTP for a client outside the process's loop


@asynccontextmanager
async def open_pipeline(database: Database, tokens: Tokens, **executor_settings: Any) -> AsyncIterator[Pipeline]:
    """The pipeline over `database`, with a Super Admin's client; `executor_settings` are Settings' fields for the
    executor (e.g. outbound_allow)."""
    store = database.store
    metrics = Metrics()
    wakeup = LocalWakeup()
    stop = asyncio.Event()
    breaches: list[str] = []  # where a process of its own would have ended (fenced): fails the test, not pytest

    def breached(reason: str) -> None:
        breaches.append(reason)
        raise FencedInTest(reason)

    async with (
        InMemoryBroker() as broker,
        InstanceHeartbeat(
            database.sessionmaker, store.instances, role="embedded", mode="embedded", interval=0.2, instance_timeout=30
        ) as me,
    ):
        executor = Executor(
            database.sessionmaker,
            store,
            broker,
            TaskRegistry.from_modules(["scheduler_core.tasks.builtin"]),
            metrics,
            me,
            executor_config(
                **(
                    {
                        "executor_concurrency": 2,
                        "lock_ttl": 30.0,
                        "instance_timeout": 30.0,
                        "task_timeout": 10.0,
                        "shutdown_grace": 1.0,
                    }
                    | executor_settings
                )
            ),
            watchdog=False,
            # As embedded mode does: a finish that schedules a retry or frees a queue's place wakes the timekeeper.
            on_wake=wakeup.notify,
            on_breach=breached,
        )
        await executor.start()  # also publishes the built-in tasks to the catalogue
        timekeeper = TimekeeperService(
            database.sessionmaker,
            store,
            broker,
            wakeup,
            metrics,
            # A long idle sleep: only the API's wake-up can make the relay publish the run in time.
            timekeeper_config(timekeeper_max_sleep=60.0, outbox_delay=60.0, sweep_interval=60.0, instance_timeout=30.0),
            is_live=me.is_live,
        )
        running = asyncio.create_task(timekeeper.run(stop), name="test-timekeeper")
        app = create_app(
            api_settings(),
            database,
            instance_id=me.id,
            mode="embedded",
            on_schedule_change=wakeup.notify,
            metrics=metrics,
        )
        try:
            async with open_client(app, tokens.headers()) as client:
                functions = (await client.get(f"{API}/task-functions")).json()
                yield Pipeline(client, me.id, {function["key"]: function["id"] for function in functions}, app)
        finally:
            stop.set()
            await running
            await executor.stop()
    assert not breaches, f"the executor would have ended its process (fenced): {breaches}"


async def final_run(client: AsyncClient, job_id: int, execution_id: str) -> dict[str, Any]:
    """The run's history entry once it is no longer pending or running."""
    async with asyncio.timeout(RUN_DEADLINE_S):
        while True:
            history = (await client.get(f"{API}/jobs/{job_id}/history")).json()
            run: dict[str, Any] = next(item for item in history["items"] if item["executionId"] == execution_id)
            if run["statusName"] not in {"pending", "running"}:
                return run
            await asyncio.sleep(POLL_INTERVAL_S)

"""Standalone executor process: `jobscheduler executor`."""

from __future__ import annotations

import asyncio
import contextlib

from scheduler_core.bootstrap import build_broker, open_database, stop_on_signals
from scheduler_core.db.models import InstanceStatus
from scheduler_core.db.repository import SchedulerRepository
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.health import health_app
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.logging import configure_logging
from scheduler_core.observability.metrics import Metrics
from scheduler_core.settings import Settings
from scheduler_core.tasks import TaskRegistry
from scheduler_executor.executor import Executor, ExecutorConfig


def config_from(settings: Settings) -> ExecutorConfig:
    return ExecutorConfig(
        concurrency=settings.executor_concurrency,
        lock_ttl=settings.lock_ttl,
        task_timeout=settings.task_timeout,
        shutdown_grace=settings.shutdown_grace,
    )


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run an executor until SIGTERM/SIGINT (or `stop`), then drain gracefully."""
    configure_logging(settings.log_level, settings.log_format)
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    registry = TaskRegistry.from_modules(settings.task_modules)
    metrics = Metrics()
    repository = SchedulerRepository()
    async with (
        open_database(settings, migrate=False) as database,
        build_broker(settings) as broker,
        InstanceHeartbeat(
            database.sessionmaker,
            repository,
            role="executor",
            mode="standalone",
            interval=settings.heartbeat_interval,
            name=settings.instance_name,
        ) as instance,
        HttpServer(
            health_app(metrics, {"database": database.ping, "broker": broker.ping}),
            settings.host,
            settings.health_port,
        ),
    ):
        executor = Executor(
            database.sessionmaker, repository, broker, registry, metrics, instance, config_from(settings)
        )
        await executor.start()
        await instance.set_status(InstanceStatus.RUNNING)
        await wait_for_stop(stop, instance.lost)
        await executor.stop()


async def wait_for_stop(stop: asyncio.Event, lost: asyncio.Event) -> None:
    """Until a stop is requested or the instance was declared dead (then its runs were already failed by the
    sweep: stop taking work and exit so the orchestrator restarts a fresh instance)."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

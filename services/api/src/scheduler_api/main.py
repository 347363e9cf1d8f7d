"""Standalone API process: `jobscheduler api`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from scheduler_api.app import create_app
from scheduler_core.bootstrap import build_broker, open_database, stop_on_signals
from scheduler_core.db.models import InstanceStatus
from scheduler_core.db.repository import SchedulerRepository
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.logging import configure_logging
from scheduler_core.observability.metrics import Metrics
from scheduler_core.settings import Settings

# Seconds between checks that the HTTP server is still running while waiting for a stop.
SERVER_CHECK_INTERVAL_S: Final = 0.5


class ServerStopped(RuntimeError):
    """uvicorn stopped by itself (not asked to): the process exits non-zero for its supervisor to restart it."""


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve the API on settings.host:port until SIGTERM/SIGINT (or `stop`), registered as an `api` instance.
    Refuses to start on a database whose schema is not at head (run `jobscheduler migrate` first); opens the
    broker only so that /readyz can report it (the API never publishes: the timekeepers relay manual runs)."""
    configure_logging(settings.log_level, settings.log_format)
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    repository = SchedulerRepository()
    async with (
        open_database(settings, migrate=False) as database,
        build_broker(settings) as broker,
        InstanceHeartbeat(
            database.sessionmaker,
            repository,
            role="api",
            mode="standalone",
            interval=settings.heartbeat_interval,
            name=settings.instance_name,
        ) as instance,
    ):
        app = create_app(
            settings,
            database,
            instance_id=instance.id,
            mode="standalone",
            broker_ping=broker.ping,
            metrics=Metrics(),
            repository=repository,
        )
        async with HttpServer(app, settings.host, settings.port, lifespan="on") as server:
            await instance.set_status(InstanceStatus.RUNNING)
            while not stop.is_set() and not server.failed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SERVER_CHECK_INTERVAL_S)
        if not stop.is_set():
            raise ServerStopped("the API's HTTP server stopped unexpectedly (see the log above)")

"""Standalone timekeeper process: `jobscheduler timekeeper`."""

from __future__ import annotations

import asyncio

from scheduler_core.bootstrap import build_broker, open_database, stop_on_signals
from scheduler_core.db.listener import PostgresWakeup
from scheduler_core.db.models import InstanceStatus
from scheduler_core.db.repository import SchedulerRepository
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.health import health_app
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.logging import configure_logging
from scheduler_core.observability.metrics import Metrics
from scheduler_core.settings import Settings
from scheduler_core.wakeup import LocalWakeup, Wakeup
from scheduler_timekeeper.service import TimekeeperConfig, TimekeeperService


def config_from(settings: Settings) -> TimekeeperConfig:
    return TimekeeperConfig(
        batch_size=settings.timekeeper_batch_size,
        max_sleep=settings.timekeeper_max_sleep,
        outbox_delay=settings.outbox_delay,
        sweep_interval=settings.sweep_interval,
        instance_timeout=settings.instance_timeout,
    )


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run a timekeeper until SIGTERM/SIGINT (or `stop`)."""
    configure_logging(settings.log_level, settings.log_format)
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    metrics = Metrics()
    repository = SchedulerRepository()
    async with open_database(settings, migrate=False) as database, build_broker(settings) as broker:
        wakeup: Wakeup = LocalWakeup() if database.is_sqlite else PostgresWakeup(database.url)
        async with (
            wakeup,
            InstanceHeartbeat(
                database.sessionmaker,
                repository,
                role="timekeeper",
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
            await instance.set_status(InstanceStatus.RUNNING)
            service = TimekeeperService(
                database.sessionmaker, repository, broker, wakeup, metrics, config_from(settings)
            )
            await service.run(stop)

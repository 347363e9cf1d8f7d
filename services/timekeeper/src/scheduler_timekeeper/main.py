"""Standalone timekeeper process: `jobscheduler timekeeper`."""

from __future__ import annotations

import asyncio

from scheduler_core.bootstrap import standalone_role
from scheduler_core.db.listener import PostgresWakeup
from scheduler_core.db.models import InstanceStatus
from scheduler_core.settings import Settings
from scheduler_core.wakeup import LocalWakeup, Wakeup
from scheduler_timekeeper.service import TimekeeperConfig, TimekeeperService


def config_from(settings: Settings) -> TimekeeperConfig:
    return TimekeeperConfig(
        batch_size=settings.timekeeper_batch_size,
        max_sleep=settings.timekeeper_max_sleep,
        min_cycle=settings.timekeeper_min_cycle,
        lookahead=settings.timekeeper_lookahead,
        outbox_delay=settings.outbox_delay,
        lost_message_timeout=settings.lost_message_timeout,
        sweep_interval=settings.sweep_interval,
        instance_timeout=settings.instance_timeout,
    )


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run a timekeeper until SIGTERM/SIGINT (or `stop`)."""
    async with standalone_role(settings, "timekeeper", stop) as role:
        database = role.database
        wakeup: Wakeup = LocalWakeup() if database.is_sqlite else PostgresWakeup(database.url)
        async with wakeup, role.health_server():
            await role.instance.set_status(InstanceStatus.RUNNING)
            service = TimekeeperService(
                database.sessionmaker, role.repository, role.broker, wakeup, role.metrics, config_from(settings)
            )
            await service.run(role.stop)

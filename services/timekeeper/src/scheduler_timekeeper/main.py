"""Standalone timekeeper process: `jobscheduler timekeeper`."""

from __future__ import annotations

import asyncio

from scheduler_core.bootstrap import ShutdownForced, standalone_role
from scheduler_core.settings import Settings
from scheduler_core.store.models import InstanceStatus
from scheduler_timekeeper.service import TimekeeperConfig, TimekeeperService


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run a timekeeper until SIGTERM/SIGINT (or `stop`)."""
    async with standalone_role(settings, "timekeeper", stop) as role:
        database = role.database
        async with database.wakeup() as wakeup, role.health_server():
            await role.instance.set_status(InstanceStatus.RUNNING)
            service = TimekeeperService(
                database.sessionmaker,
                database.store,
                role.broker,
                wakeup,
                role.metrics,
                TimekeeperConfig.from_settings(settings),
                is_live=role.instance.is_live,
                tracing=role.tracing,
            )
            await service.run(role.stop)
        if role.force.is_set():
            raise ShutdownForced("timekeeper stopped at once by a second interrupt")

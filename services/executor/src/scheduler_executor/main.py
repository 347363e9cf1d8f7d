"""Standalone executor process: `jobscheduler executor`."""

from __future__ import annotations

import asyncio
import contextlib

from scheduler_core.bootstrap import ShutdownForced, standalone_role
from scheduler_core.instance import InstanceLost
from scheduler_core.settings import Settings
from scheduler_core.store.models import InstanceStatus
from scheduler_core.tasks import TaskRegistry
from scheduler_executor.config import ExecutorConfig
from scheduler_executor.executor import Executor


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run an executor until SIGTERM/SIGINT (or `stop`), then drain gracefully; a second SIGINT fails what still
    runs at once (with the reason) and ends with ShutdownForced."""
    registry = TaskRegistry.from_modules(settings.task_modules)  # a bad module fails before connecting
    async with standalone_role(settings, "executor", stop) as role, role.health_server():
        executor = Executor(
            role.database.sessionmaker,
            role.database.store,
            role.broker,
            registry,
            role.metrics,
            role.instance,
            ExecutorConfig.from_settings(settings),
            watchdog=True,
            tracing=role.tracing,
        )
        await executor.start()
        await role.instance.set_status(InstanceStatus.RUNNING)
        await wait_for_stop(role.stop, role.instance.lost)
        await executor.stop(force=role.force)
        if role.force.is_set():
            raise ShutdownForced("executor stopped at once by a second interrupt; the runs it held were failed")
        if role.instance.lost.is_set():
            raise InstanceLost(
                f"executor instance {role.instance.id} was declared dead while a task it could not stop was running"
            )


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

"""Embedded mode: api + timekeeper + executor in one process, over SQLite (default) or PostgreSQL, with the
in-process broker. The composition root of the three roles; each role's code stays in its own service."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable

import structlog

from scheduler_api.app import create_app
from scheduler_core.auth.tokens import jwt_secret, mint_super_admin_token
from scheduler_core.bootstrap import ShutdownForced, build_broker, open_database, stop_on_signals
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.logging import configure_logging
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing_setup import process_tracing
from scheduler_core.settings import Settings
from scheduler_core.store.models import InstanceStatus
from scheduler_core.tasks import TaskRegistry
from scheduler_core.wakeup import LocalWakeup
from scheduler_executor.config import ExecutorConfig
from scheduler_executor.executor import Executor
from scheduler_timekeeper.service import TimekeeperConfig, TimekeeperService

log = structlog.get_logger(__name__)

ReadyCallback = Callable[[str, str], None]


def print_banner(url: str, token: str) -> None:
    """How to log in, on stdout (logs go to stderr)."""
    sys.stdout.write(
        f"\njobscheduler is running (embedded mode) at {url}\n"
        f"  dashboard:  {url}/\n"
        f"  API docs:   {url}/docs\n"
        f"  sign in with this Super Admin token (valid 12 h; `make token` prints a new one):\n\n{token}\n\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()


async def serve_embedded(
    settings: Settings, stop: asyncio.Event | None = None, on_ready: ReadyCallback = print_banner
) -> None:
    """Run every role in this process until SIGINT/SIGTERM (or `stop`); on the way out, running tasks get
    the shutdown grace period and whatever is left is failed with a reason, so no run stays `running`. A second
    SIGINT cuts the grace short (what runs is failed at once, with that reason) and ends with ShutdownForced."""
    configure_logging(settings.log_level, settings.log_format)
    registry = TaskRegistry.from_modules(settings.task_modules)  # a bad module stops it before anything is written
    settings = settings.model_copy(update={"jwt_secret": jwt_secret(settings, generate=True)})
    force = asyncio.Event()
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop, force)
    metrics = Metrics()
    wakeup = LocalWakeup()
    async with (
        process_tracing("jobscheduler") as tracing,
        open_database(settings, migrate=True) as database,
        build_broker(settings, embedded=True) as broker,
    ):
        tracing.instrument_engine(database.engine)
        # The in-process queue starts empty: every pending run must be published again.
        store = database.store
        async with database.sessionmaker.begin() as session:
            await store.outbox.forget_all(session)
        async with InstanceHeartbeat(
            database.sessionmaker,
            store.instances,
            role="embedded",
            mode="embedded",
            interval=settings.heartbeat_interval,
            instance_timeout=settings.instance_timeout,
            name=settings.instance_name,
        ) as instance:
            executor = Executor(
                database.sessionmaker,
                store,
                broker,
                registry,
                metrics,
                instance,
                ExecutorConfig.from_settings(settings),
                # One process owns everything here: no other executor can take its runs.
                watchdog=False,
                on_wake=wakeup.notify,
                tracing=tracing,
            )
            await executor.start()
            timekeeper = TimekeeperService(
                database.sessionmaker,
                store,
                broker,
                wakeup,
                metrics,
                TimekeeperConfig.from_settings(settings),
                is_live=instance.is_live,
                tracing=tracing,
            )
            timekeeper_stop = asyncio.Event()
            timekeeper_task = asyncio.create_task(timekeeper.run(timekeeper_stop), name="timekeeper")
            app = create_app(
                settings,
                database,
                instance_id=instance.id,
                mode="embedded",
                broker_ping=broker.ping,
                queue_depth=broker.queue_depth,
                on_schedule_change=wakeup.notify,
                metrics=metrics,
                tracing=tracing,
            )
            try:
                async with HttpServer(app, settings.host, settings.port, lifespan="on") as server:
                    await instance.set_status(InstanceStatus.RUNNING)
                    # Under SCHEDULER_ROOT_PATH the dashboard's links carry the prefix: so does the banner's URL.
                    url = f"http://{settings.host}:{settings.port}{settings.root_path or ''}"
                    on_ready(url, mint_super_admin_token(settings, settings.jwt_secret or ""))
                    await _until_stopped(stop, instance.lost, lambda: server.failed or timekeeper_task.done())
            finally:
                timekeeper_stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await timekeeper_task
                await executor.stop(force=force)
    if force.is_set():
        raise ShutdownForced("stopped at once by a second interrupt; the runs still going were failed")
    log.info("embedded_stopped")


async def _until_stopped(stop: asyncio.Event, lost: asyncio.Event, broken: Callable[[], bool]) -> None:
    # Seconds between checks that the server and timekeeper are still alive.
    while not (stop.is_set() or lost.is_set() or broken()):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)

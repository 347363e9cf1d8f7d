"""Start-up wiring shared by every role: the database (checked or migrated), the broker, stop signals.
Each entry point calls these once with its Settings; nothing here runs at import time."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final, NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.broker import Broker, InMemoryBroker, RabbitMQBroker
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.health import health_app
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.logging import configure_logging
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import Tracing
from scheduler_core.observability.tracing_setup import process_tracing
from scheduler_core.schemas.health import ReadinessWarning
from scheduler_core.settings import Settings
from scheduler_core.store import Store
from scheduler_core.store.backend import Backend
from scheduler_core.store.backends import backend_for
from scheduler_core.store.engine import create_sessionmaker, wait_until_reachable
from scheduler_core.store.migration import ensure_migrated, upgrade
from scheduler_core.wakeup import Wakeup

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Database:
    """An open database: its engine and sessions, and the backend's store (chosen once, from the URL)."""

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    backend: Backend
    store: Store

    @classmethod
    def of(cls, engine: AsyncEngine) -> Database:
        """The database an engine opens, with its backend's store."""
        url = engine.url.render_as_string(hide_password=False)
        backend = backend_for(url)
        return cls(url, engine, create_sessionmaker(engine), backend, backend.store())

    def wakeup(self) -> Wakeup:
        """What wakes this process's timekeeper when another process changes a job."""
        return self.backend.wakeup(self.url)

    async def readiness_warnings(self) -> list[ReadinessWarning]:
        """What is switched off that the scheduler's tables need (PostgreSQL's autovacuum), as /readyz lists it."""
        async with self.sessionmaker() as session:
            found = await self.store.maintenance.warnings(session)
        return [ReadinessWarning(check="database", code=warning.code, message=warning.message) for warning in found]

    async def warn_at_start_up(self) -> None:
        """Log each maintenance warning (a process starts either way); a failed check is logged, not raised."""
        try:
            found = await self.readiness_warnings()
        except Exception as exc:
            log.info("database_maintenance_unchecked", error=str(exc), error_type=type(exc).__name__)
            return
        for warning in found:
            log.warning("database_maintenance_off", code=warning.code, message=warning.message)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except Exception:
            return False
        return True


@asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool, pre_ping: bool = True) -> AsyncIterator[Database]:
    """The configured database, once it answers (retried for settings.startup_timeout, then DatabaseUnavailable).
    migrate=True brings the schema to head first (embedded mode, `migrate`); otherwise a schema that is not at
    head stops start-up with SchemaNotReady (standalone services). pre_ping: see create_engine."""
    url = settings.resolved_database_url()
    engine = backend_for(url).create_engine(url, pool_size=settings.database_pool_size, pre_ping=pre_ping)
    try:
        await wait_until_reachable(engine, timeout=settings.startup_timeout)
        if migrate:
            await upgrade(engine)
        else:
            await ensure_migrated(engine)
        database = Database.of(engine)
        await database.warn_at_start_up()
        yield database
    finally:
        await engine.dispose()


def build_broker(settings: Settings, *, embedded: bool = False) -> Broker:
    """The in-process broker for embedded mode (one process), RabbitMQ for the standalone services."""
    if embedded:
        return InMemoryBroker(max_priority=settings.max_priority, runs_per_message=settings.runs_per_message)
    return RabbitMQBroker(
        settings.amqp_url,
        settings.queue_name,
        queue_type=settings.queue_type,
        max_priority=settings.max_priority,
        runs_per_message=settings.runs_per_message,
        publish_timeout_s=settings.publish_timeout,
        heartbeat_s=settings.amqp_heartbeat,
    )


# Exit code of a process whose stop a second interrupt forced (128 + SIGINT, as a shell reports it).
FORCED_EXIT_CODE: Final = 130
# Seconds after a second interrupt by which the process exits even if its clean-up hangs (a database that does
# not answer): the runs it held are then failed by the sweep once their leases expire. The clean-up takes
# milliseconds otherwise (one transaction; tests/integration/test_forced_stop.py measures it).
FORCED_EXIT_BACKSTOP_S: Final = 3.0


class ShutdownForced(Exception):
    """A second interrupt came while the process was stopping: what it ran was failed at once, with the reason,
    rather than given the shutdown grace period. The process then exits with FORCED_EXIT_CODE, without waiting for
    task threads it cannot stop."""


def stop_on_signals(stop: asyncio.Event, force: asyncio.Event | None = None) -> None:
    """SIGTERM and SIGINT set `stop`: the roles then finish what they hold and exit cleanly. With `force`: a SIGINT
    while stopping (Ctrl-C again) sets it, to stop at once (ShutdownForced), and a third exits on the spot."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, stop, force, sig)


def _on_signal(stop: asyncio.Event, force: asyncio.Event | None, sig: signal.Signals) -> None:
    if not stop.is_set():
        if force is None:
            log.info("stop_requested", signal=sig.name)
        else:
            log.info("stop_requested", signal=sig.name, hint="press Ctrl-C again to stop at once")
        stop.set()
        return
    if force is None or sig is not signal.SIGINT:
        return
    if force.is_set():
        exit_now("a third interrupt ended the process before its clean-up finished")
    log.warning("stop_forced", signal=sig.name, backstop_s=FORCED_EXIT_BACKSTOP_S)
    force.set()
    asyncio.get_running_loop().call_later(
        FORCED_EXIT_BACKSTOP_S,
        exit_now,
        f"its clean-up was still running {FORCED_EXIT_BACKSTOP_S:g} s later; the sweep fails the runs it held",
    )


def exit_now(why: str) -> NoReturn:
    """End the process on the spot (no further clean-up, no waiting for threads), after a second interrupt."""
    sys.stderr.write(f"stopped by a second interrupt: {why}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(FORCED_EXIT_CODE)


@dataclass(frozen=True, slots=True)
class RoleRuntime:
    """What every standalone role process has: settings, database, broker, its instance row, metrics, traces (off
    unless the environment names an OTLP endpoint), the event that asks it to stop, and the one that asks it to stop
    at once (a second interrupt)."""

    settings: Settings
    database: Database
    broker: Broker
    instance: InstanceHeartbeat
    metrics: Metrics
    stop: asyncio.Event
    tracing: Tracing
    force: asyncio.Event = field(default_factory=asyncio.Event)

    def health_server(self) -> HttpServer:
        """/healthz, /readyz (database and broker, and the database's maintenance warnings) and /metrics on the
        health port."""
        checks = {"database": self.database.ping, "broker": self.broker.ping}
        app = health_app(self.metrics, checks, self.database.readiness_warnings)
        return HttpServer(app, self.settings.host, self.settings.health_port)


@asynccontextmanager
async def standalone_role(
    settings: Settings, role: str, stop: asyncio.Event | None = None
) -> AsyncIterator[RoleRuntime]:
    """Logging, traces, stop signals, the migrated database, the broker and the registered instance of one role.
    Without a `stop` of the caller's, SIGTERM/SIGINT set the runtime's, and a second SIGINT its `force`."""
    configure_logging(settings.log_level, settings.log_format)
    force = asyncio.Event()
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop, force)
    async with (
        process_tracing(f"jobscheduler-{role}") as tracing,
        # Only the API serves requests that cannot be retried by the role itself.
        open_database(settings, migrate=False, pre_ping=role == "api") as database,
        build_broker(settings) as broker,
        InstanceHeartbeat(
            database.sessionmaker,
            database.store.instances,
            role=role,
            mode="standalone",
            interval=settings.heartbeat_interval,
            instance_timeout=settings.instance_timeout,
            name=settings.instance_name,
        ) as instance,
    ):
        tracing.instrument_engine(database.engine)
        yield RoleRuntime(settings, database, broker, instance, Metrics(), stop, tracing, force)

"""Timekeepers, executors and apis assembled in the test process, each with its own database engine and broker
connection as separate processes would have, with short intervals so recovery happens in seconds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from scheduler_api.app import create_app
from scheduler_core.bootstrap import Database
from scheduler_core.broker import Broker
from scheduler_core.instance import InstanceHeartbeat
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import Tracing
from scheduler_core.settings import Settings
from scheduler_core.store import Store
from scheduler_core.store.backends import backend_for
from scheduler_core.store.engine import create_engine, create_sessionmaker
from scheduler_core.store.models import InstanceStatus
from scheduler_core.tasks import TaskRegistry
from scheduler_core.wakeup import LocalWakeup
from scheduler_executor.config import ExecutorConfig
from scheduler_executor.executor import Executor
from scheduler_timekeeper.service import TimekeeperConfig, TimekeeperService
from tests.support.configs import executor_config, timekeeper_config
from tests.support.processes import TEST_JWT_SECRET, free_port

TASK_MODULES = ["scheduler_core.tasks.builtin", "tests.support.tasks"]

HEARTBEAT_S = 0.5
FAST_TIMEKEEPER = timekeeper_config(
    timekeeper_batch_size=200,
    timekeeper_max_sleep=1.0,
    outbox_delay=1.0,
    sweep_interval=0.5,
    heartbeat_interval=HEARTBEAT_S,
    instance_timeout=2.0,
    lock_ttl=3.0,
)
FAST_EXECUTOR = executor_config(
    executor_concurrency=8,
    heartbeat_interval=HEARTBEAT_S,
    instance_timeout=2.0,
    lock_ttl=3.0,
    task_timeout=60.0,
    shutdown_grace=5.0,
)


class FencedInTest(Exception):
    """Raised into a run's task where a process of its own would have ended (see Pipeline.breaches)."""


@dataclass
class Running:
    instance: InstanceHeartbeat
    metrics: Metrics
    stop: Callable[[], asyncio.Future[None] | asyncio.Task[None]]


@dataclass
class Pipeline:
    database_url: str
    broker_factory: Callable[[], Broker]
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    store: Store = field(init=False)
    timekeepers: list[Running] = field(default_factory=list)
    executors: list[Running] = field(default_factory=list)
    wakeups: list[LocalWakeup] = field(default_factory=list)
    tracing: Tracing = field(default_factory=Tracing)  # every role's (off unless a test turns it on)
    # Fence breaches of the executors: a process of its own would have ended itself (exit 7); inside pytest the
    # run's task is stopped instead and the test fails when the pipeline closes, naming the breach.
    breaches: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = backend_for(self.database_url).store()

    async def start_timekeeper(self, config: TimekeeperConfig = FAST_TIMEKEEPER) -> Running:
        engine = create_engine(self.database_url, pool_size=5)
        self.stack.push_async_callback(engine.dispose)
        self.tracing.instrument_engine(engine)
        sessionmaker = create_sessionmaker(engine)
        broker = await self.stack.enter_async_context(self.broker_factory())
        wakeup = LocalWakeup()
        self.wakeups.append(wakeup)
        metrics = Metrics()
        instance = await self.stack.enter_async_context(
            InstanceHeartbeat(
                sessionmaker,
                self.store.instances,
                role="timekeeper",
                mode="standalone",
                interval=HEARTBEAT_S,
                instance_timeout=config.instance_timeout,
            )
        )
        await instance.set_status(InstanceStatus.RUNNING)
        service = TimekeeperService(
            sessionmaker, self.store, broker, wakeup, metrics, config, is_live=instance.is_live, tracing=self.tracing
        )
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))

        async def stopper() -> None:
            stop.set()
            await task

        self.stack.push_async_callback(_finish, task, stop)
        running = Running(instance, metrics, lambda: asyncio.ensure_future(stopper()))
        self.timekeepers.append(running)
        return running

    async def start_executor(self, config: ExecutorConfig = FAST_EXECUTOR) -> Running:
        engine = create_engine(self.database_url, pool_size=config.concurrency + 2)
        self.stack.push_async_callback(engine.dispose)
        self.tracing.instrument_engine(engine)
        sessionmaker = create_sessionmaker(engine)
        broker = await self.stack.enter_async_context(self.broker_factory())
        metrics = Metrics()
        instance = await self.stack.enter_async_context(
            InstanceHeartbeat(
                sessionmaker,
                self.store.instances,
                role="executor",
                mode="standalone",
                interval=HEARTBEAT_S,
                instance_timeout=config.instance_timeout,
            )
        )
        executor = Executor(
            sessionmaker,
            self.store,
            broker,
            TaskRegistry.from_modules(TASK_MODULES),
            metrics,
            instance,
            config,
            watchdog=False,  # this test process is not the executor's own
            on_wake=self.wake,  # its timekeepers share this process (PostgreSQL's NOTIFY reaches them too)
            tracing=self.tracing,
            on_breach=self._breached,
        )
        await executor.start()
        await instance.set_status(InstanceStatus.RUNNING)
        stopped = False

        async def stopper() -> None:
            nonlocal stopped
            if not stopped:
                stopped = True
                await executor.stop()

        self.stack.push_async_callback(stopper)
        running = Running(instance, metrics, lambda: asyncio.ensure_future(stopper()))
        self.executors.append(running)
        return running

    async def start_api(self) -> int:
        """An api (its instance registered, /metrics reading the state with the fault settings' instance timeout
        and the broker queue's depth) served on a free loopback port; returns the port."""
        engine = create_engine(self.database_url, pool_size=5)
        self.stack.push_async_callback(engine.dispose)
        self.tracing.instrument_engine(engine)
        broker = await self.stack.enter_async_context(self.broker_factory())
        settings = Settings(jwt_secret=TEST_JWT_SECRET, heartbeat_interval=HEARTBEAT_S, instance_timeout=2.0)
        database = Database.of(engine)
        instance = await self.stack.enter_async_context(
            InstanceHeartbeat(
                database.sessionmaker,
                self.store.instances,
                role="api",
                mode="standalone",
                interval=HEARTBEAT_S,
                instance_timeout=settings.instance_timeout,
            )
        )
        app = create_app(
            settings,
            database,
            instance_id=instance.id,
            broker_ping=broker.ping,
            queue_depth=broker.queue_depth,
            tracing=self.tracing,
        )
        port = free_port()
        await self.stack.enter_async_context(HttpServer(app, "127.0.0.1", port, lifespan="on"))
        await instance.set_status(InstanceStatus.RUNNING)
        return port

    def _breached(self, reason: str) -> None:
        self.breaches.append(reason)
        raise FencedInTest(reason)

    def wake(self) -> None:
        for wakeup in self.wakeups:
            wakeup.notify()


async def _finish(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@asynccontextmanager
async def pipeline(
    database_url: str, broker_factory: Callable[[], Broker], tracing: Tracing | None = None
) -> AsyncIterator[Pipeline]:
    built = Pipeline(database_url, broker_factory, tracing=tracing or Tracing())
    async with built.stack:
        yield built
    assert not built.breaches, f"an executor would have ended its process (fenced): {built.breaches}"

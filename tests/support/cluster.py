"""Harness of the fault scenarios: the services as real processes on one queue, jobs on the test tasks, the
database reads the history checker needs, and the waits for conditions on them (which the in-process pipeline
tests use too)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.schedule import IntervalSchedule
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, JobType, ScheduledJob, ScheduledJobExecution, SchedulerInstance
from scheduler_core.tasks import TaskRegistry
from tests.support.processes import TEST_TASK_MODULES, RoleProcess, service_env, start_role
from tests.support.proxy import TcpProxy
from tests.support.stores import store_for, store_of

T = TypeVar("T")


# Environment every role of a cluster gets on top of service_env's fast heartbeats (seconds): timekeepers
# sleep at most 1 s, so that a missed wake-up costs a second, not five.
CLUSTER_ENV = {"SCHEDULER_TIMEKEEPER_MAX_SLEEP": "1"}


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Poll `probe` every 50 ms until it returns something other than None."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value is not None:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


# --- processes -----------------------------------------------------------------------------------------------

# Every role process a Cluster started, until it exited: what kill_leftovers() cleans up after a test whose own
# teardown could not run (a timeout).
_STARTED: list[RoleProcess] = []


def kill_leftovers() -> list[int]:
    """SIGKILL (after SIGCONT) every role process started here that is still running; returns their pids."""
    killed = []
    for process in list(_STARTED):
        if process.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)
                os.kill(process.pid, signal.SIGKILL)
                killed.append(process.pid)
        _STARTED.remove(process)
    return killed


@dataclass(frozen=True, slots=True)
class Links:
    """A process's own connections to PostgreSQL and to RabbitMQ, each through a proxy the test can cut."""

    database: TcpProxy
    broker: TcpProxy


@dataclass
class Cluster:
    """Role processes (`python -m scheduler_cli <role>`) sharing one database and one queue."""

    database_url: str
    amqp_url: str
    queue: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(CLUSTER_ENV))
    processes: list[RoleProcess] = field(default_factory=list)
    links: dict[int, Links] = field(default_factory=dict)  # by pid, for processes started `linked`

    async def start(
        self,
        role: str,
        count: int = 1,
        env: Mapping[str, str] | None = None,
        *,
        linked: bool = False,
        ready: bool = True,
    ) -> list[RoleProcess]:
        """Start `count` processes of `role` and (if `ready`) wait until all answer /readyz. `linked`: each
        reaches PostgreSQL and RabbitMQ through proxies of its own (see `links`), so that a test can cut one
        process off, or everyone."""
        merged = {**self.env, **(env or {})}
        started = []
        for _ in range(count):
            database_url, amqp_url, links = self.database_url, self.amqp_url, None
            if linked:
                links = Links(await TcpProxy.before(self.database_url), await TcpProxy.before(self.amqp_url))
                database_url, amqp_url = links.database.url(database_url), links.broker.url(amqp_url)
            process = await start_role(role, service_env(database_url, amqp_url, self.queue, **merged), self.log_dir)
            if links is not None:
                self.links[process.pid] = links
            started.append(process)
        self.processes += started
        _STARTED.extend(started)
        if ready:
            await asyncio.gather(*(process.wait_ready(timeout=60) for process in started))
        return started

    def database_links(self, processes: Sequence[RoleProcess] | None = None) -> list[TcpProxy]:
        """The database proxies of these linked processes (all linked processes by default)."""
        pids = self.links if processes is None else [p.pid for p in processes]
        return [self.links[pid].database for pid in pids]

    def broker_links(self, processes: Sequence[RoleProcess] | None = None) -> list[TcpProxy]:
        pids = self.links if processes is None else [p.pid for p in processes]
        return [self.links[pid].broker for pid in pids]

    async def timekeepers(
        self, count: int = 1, env: Mapping[str, str] | None = None, *, linked: bool = False
    ) -> list[RoleProcess]:
        return await self.start("timekeeper", count, env, linked=linked)

    async def executors(
        self, count: int = 1, env: Mapping[str, str] | None = None, *, linked: bool = False
    ) -> list[RoleProcess]:
        return await self.start("executor", count, env, linked=linked)

    def of_role(self, role: str) -> list[RoleProcess]:
        return [p for p in self.processes if p.role == role]

    async def stop(self, processes: Sequence[RoleProcess] | None = None, timeout: float = 30.0) -> None:
        """SIGTERM (after SIGCONT, in case one is stopped) and wait; SIGKILL what does not exit in time."""
        targets = list(self.processes if processes is None else processes)
        for process in targets:
            if process.pid in self.links:  # let it shut down cleanly, not wait on a cut link
                self.links[process.pid].database.restore()
                self.links[process.pid].broker.restore()
            if process.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill(signal.SIGCONT)
        await asyncio.gather(*(process.stop(timeout) for process in targets))
        for process in targets:
            links = self.links.pop(process.pid, None)
            if links is not None:
                await links.database.close()
                await links.broker.close()

    def tails(self, lines: int = 15) -> str:
        """The end of every process log, for failure messages."""
        return "\n".join(f"--- {p.role} pid {p.pid} ---\n{p.log_tail(lines)}" for p in self.processes)


def log_events(process: RoleProcess) -> list[str]:
    """The structlog event names a role process logged (its log is JSON lines)."""
    if not process.log_path.exists():
        return []
    return re.findall(r'"event": ?"([^"]+)"', process.log_path.read_text(errors="replace"))


async def scrape_metrics(process: RoleProcess) -> dict[str, float]:
    """The process's Prometheus samples, by name with labels (``name{label="v"}``)."""
    return await scrape_port(process.port)


async def scrape_port(port: int) -> dict[str, float]:
    """The Prometheus samples served at /metrics on this loopback port, by name with labels."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return prometheus_samples(response.text)


def prometheus_samples(text: str) -> dict[str, float]:
    """The samples of a page in Prometheus' text format, by name with labels."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


# --- database ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job a scenario created: what the checker needs to enumerate its slots."""

    job_id: int
    period_seconds: int
    first_slot: datetime
    tracks_starts: bool = True  # its task appends to a start log

    @property
    def schedule(self) -> IntervalSchedule:
        return IntervalSchedule(self.period_seconds)


async def register_test_tasks(engine: AsyncEngine) -> None:
    """Put the test task functions in the catalogue (what an executor does at start), so jobs can be created
    before any executor runs."""
    async with create_sessionmaker(engine).begin() as session:
        await store_for(engine).lookups.upsert_task_functions(
            session, TaskRegistry.from_modules(TEST_TASK_MODULES).specs()
        )


async def create_job(
    engine: AsyncEngine,
    *,
    task: str = "record",
    interval_seconds: int = 1,
    first_in: float = 1.0,
    first_slot: datetime | None = None,
    parameters: Mapping[str, Any] | None = None,
    tracks_starts: bool = True,
    **fields: Any,
) -> JobRef:
    """An interval job whose first slot is `first_slot`, or `first_in` seconds from the database's now; timekeepers
    are woken."""
    store = store_for(engine)
    async with create_sessionmaker(engine).begin() as session:
        function = await store.lookups.task_function_by_key(session, task)
        assert function is not None, f"task {task!r} is not registered (register_test_tasks)"
        if first_slot is None:
            first_slot = await store.clock.now(session) + timedelta(seconds=first_in)
        job = await store.jobs.create(
            session,
            {
                "task_function_id": function.id,
                "job_type_id": JobType.INTERVAL,
                "interval_seconds": interval_seconds,
                "next_run_at": first_slot,
                "parameters": dict(parameters or {}),
                **fields,
            },
        )
        await store.jobs.notify_changed(session)
        return JobRef(job.id, interval_seconds, first_slot, tracks_starts)


async def db_now(engine: AsyncEngine) -> datetime:
    async with create_sessionmaker(engine)() as session:
        return await store_of(session).clock.now(session)


async def executions(engine: AsyncEngine, job_id: int | None = None) -> list[ScheduledJobExecution]:
    async with create_sessionmaker(engine)() as session:
        query = select(ScheduledJobExecution).order_by(ScheduledJobExecution.job_id, ScheduledJobExecution.scheduled_at)
        if job_id is not None:
            query = query.where(ScheduledJobExecution.job_id == job_id)
        return list((await session.execute(query)).scalars().all())


async def execution(engine: AsyncEngine, execution_id: str) -> ScheduledJobExecution:
    async with create_sessionmaker(engine)() as session:
        query = select(ScheduledJobExecution).where(ScheduledJobExecution.execution_id == execution_id)
        return (await session.execute(query)).scalar_one()


async def succeeded_on(engine: AsyncEngine, job_id: int, instance_id: str) -> bool | None:
    """True once a run of the job succeeded on that executor instance (an `eventually` probe)."""
    rows = await executions(engine, job_id)
    ok = [r for r in rows if r.status_id == ExecutionStatus.SUCCESS and r.executor_id == instance_id]
    return True if ok else None


async def runs_ended(
    engine: AsyncEngine,
    job_id: int,
    count: int,
    *,
    status: ExecutionStatus | None = None,
    none_open: bool = False,
    timeout: float = 60.0,
) -> list[ScheduledJobExecution]:
    """Poll until at least `count` runs of the job have ended (with `status`, if given) and, if `none_open`, none
    is pending, running or waiting; returns the job's runs. For a test that lets a job run for a number of slots:
    it waits for them, not for a time that a loaded machine may not be enough for."""

    async def enough() -> list[ScheduledJobExecution] | None:
        rows = await executions(engine, job_id)
        ended = [r for r in rows if ExecutionStatus(r.status_id).is_terminal]
        if none_open and len(ended) < len(rows):
            return None
        return rows if sum(status in (None, r.status_id) for r in ended) >= count else None

    kind = f"{status.name} " if status is not None else ""
    quiet = ", none open" if none_open else ""
    return await eventually(enough, timeout, f"{count} {kind}runs of job {job_id} to end{quiet}")


async def next_run_times(engine: AsyncEngine) -> dict[int, datetime | None]:
    async with create_sessionmaker(engine)() as session:
        rows = (await session.execute(select(ScheduledJob.id, ScheduledJob.next_run_at))).all()
        return {job_id: at for job_id, at in rows}  # noqa: C416 (typed Row pairs)


async def instance_of_pid(engine: AsyncEngine, pid: int) -> str | None:
    async with create_sessionmaker(engine)() as session:
        query = select(SchedulerInstance.id).where(SchedulerInstance.process_id == pid)
        return (await session.execute(query)).scalars().first()


async def settle(engine: AsyncEngine, timeout: float = 30.0, *, strict: bool = True) -> list[ScheduledJobExecution]:
    """Poll until no execution is pending or running; returns them all. Past the timeout: raises if `strict`,
    else returns them as they are (for the checker to report the open ones as lost, next to what else it finds)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await executions(engine)
        still_open = [r for r in rows if not ExecutionStatus(r.status_id).is_terminal]  # waiting retries too
        if not still_open or (not strict and time.monotonic() > deadline):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(still_open)} runs still open after {timeout} s: "
                f"{[(r.job_id, r.scheduled_at.isoformat(), r.status_id) for r in still_open[:10]]}"
            )
        await asyncio.sleep(0.2)

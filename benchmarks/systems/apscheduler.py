"""APScheduler 4 (alpha): 2 processes, each an AsyncScheduler (scheduler + worker) sharing the SQLAlchemy data
store on PostgreSQL and the asyncpg event broker (benchmarks/systems/apscheduler_node.py).

Adding schedules one by one through its API costs one transaction and one NOTIFY each (about 16 ms here), which
would make 10,000 jobs take minutes: the harness writes the same rows in bulk (the data store's own table and
Schedule.marshal) before the processes start, which is what they would read after a restart anyway."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.harness import pg
from benchmarks.harness.model import JobSpec, Roles, RunDir, System
from benchmarks.harness.procs import REPO_ROOT, ManagedProcess, clean_env

PROCESSES = 2
READY_TIMEOUT_S = 60.0
CHUNK = 2000


class APScheduler4(System):
    name = "apscheduler"
    label = "APScheduler 4"
    uses_rabbitmq = False

    def __init__(self) -> None:
        self._run: RunDir | None = None
        self._database = ""
        self._nodes: list[ManagedProcess] = []

    def describe(self) -> str:
        import importlib.metadata

        version = importlib.metadata.version("apscheduler")
        return (
            f"APScheduler {version}: {PROCESSES} processes, each AsyncScheduler (scheduler + worker), "
            "SQLAlchemy data store on PostgreSQL (asyncpg) + asyncpg event broker; coalesce=all, no misfire limit"
        )

    def database_name(self) -> str:
        return self._database

    @property
    def _url(self) -> str:
        return pg.sqlalchemy_url(self._database)

    async def setup(self, run: RunDir, run_id: str) -> None:
        self._run = run
        self._database = f"bench_{run_id}"
        await pg.create_database(self._database)

    async def start(self) -> None:
        """Nothing yet: the processes start once their schedules are in the store (see load)."""

    def load_lead(self, jobs: int) -> float:
        return 5.0 + jobs / 4_000

    async def load(self, jobs: Sequence[JobSpec]) -> None:
        assert self._run is not None
        await bulk_add_schedules(self._url, jobs)
        env = clean_env(PYTHONPATH=str(REPO_ROOT), BENCH_RECORD_DIR=str(self._run.records))
        for i in range(1, PROCESSES + 1):
            argv = [sys.executable, "-m", "benchmarks.systems.apscheduler_node", self._url]
            self._nodes.append(await ManagedProcess.spawn(f"apscheduler-{i}", argv, env, self._run.logs))
        await asyncio.gather(*(n.wait_for_log("apscheduler ready", READY_TIMEOUT_S) for n in self._nodes))

    def roles(self) -> Roles:
        pids = tuple(n.pid for n in self._nodes)
        return Roles(pids, pids)

    async def stop(self) -> None:
        await asyncio.gather(*(n.stop() for n in self._nodes))

    async def teardown(self) -> None:
        for node in self._nodes:
            await node.stop(timeout=5)
        self._nodes = []
        if self._database:
            await pg.drop_database(self._database)


async def bulk_add_schedules(url: str, jobs: Sequence[JobSpec]) -> None:
    """What AsyncScheduler.add_schedule stores, for many schedules in a few statements."""
    from apscheduler import CoalescePolicy, Schedule
    from apscheduler.triggers.interval import IntervalTrigger

    from benchmarks.systems.apscheduler_node import record, scheduler_for

    async with scheduler_for(url) as scheduler:
        task = await scheduler.configure_task(record)
        store: Any = scheduler.data_store
        rows = []
        for job in jobs:
            trigger = IntervalTrigger(seconds=job.period, start_time=datetime.fromtimestamp(job.first, UTC))
            schedule = Schedule(
                id=f"j{job.job_id}",
                task_id=task.id,
                trigger=trigger,
                args=(),
                kwargs={"job_id": job.job_id},
                coalesce=CoalescePolicy.all,
                misfire_grace_time=None,
                metadata=task.metadata.copy(),
                job_executor=task.job_executor,
            )
            schedule.next_fire_time = trigger.next()
            rows.append(store._convert_outgoing_fire_times(schedule.marshal(store.serializer)))
        async with store._engine.begin() as connection:
            for offset in range(0, len(rows), CHUNK):
                await connection.execute(store._t_schedules.insert(), rows[offset : offset + CHUNK])

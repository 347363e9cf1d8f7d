"""This product in standalone mode: 1 timekeeper + 2 executors over PostgreSQL and RabbitMQ, each its own
process started through the `jobscheduler` CLI with the product's default settings."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from benchmarks.harness import amqp, pg
from benchmarks.harness.model import Accounted, JobSpec, Roles, RunDir, System
from benchmarks.harness.procs import ManagedProcess
from benchmarks.systems import jobscheduler_common as common

READY_TIMEOUT_S = 60.0


class JobschedulerStandalone(System):
    name = "jobscheduler-standalone"
    label = "jobscheduler standalone"

    def __init__(self, executors: int = 2) -> None:
        self.executors = executors
        self._run: RunDir | None = None
        self._database = ""
        self._queue = ""
        self._timekeeper: ManagedProcess | None = None
        self._workers: list[ManagedProcess] = []
        self._jobs: Sequence[JobSpec] = ()
        self.statuses: dict[str, Any] = {}
        self._helper = common.DatabaseHelper()

    def describe(self) -> str:
        return (
            f"this product, standalone: 1 timekeeper + {self.executors} executors (default settings: "
            "concurrency 64, 16 runs per message, batch 500), PostgreSQL + RabbitMQ classic priority queue"
        )

    def database_name(self) -> str:
        return self._database

    @property
    def _url(self) -> str:
        return common.database_url_for(self._database)

    async def setup(self, run: RunDir, run_id: str) -> None:
        self._run = run
        self._database = f"bench_{run_id}"
        self._queue = f"bench.{run_id}.runs"
        await pg.create_database(self._database, template=await common.template_database())

    def _env(self, instance: str) -> dict[str, str]:
        assert self._run is not None
        return common.product_env(
            self._run, self._url, SCHEDULER_QUEUE_NAME=self._queue, SCHEDULER_INSTANCE_NAME=instance
        )

    async def start(self) -> None:
        assert self._run is not None
        await self._helper.start()
        # Executors first: they register the benchmark's task function, which the jobs refer to.
        started = [
            await common.start_role(self._run, f"executor-{i}", "executor", self._env(f"bench-executor-{i}"))
            for i in range(1, self.executors + 1)
        ]
        self._workers = [process for process, _ in started]
        await asyncio.gather(
            *(p.wait_http_ok(f"http://127.0.0.1:{port}/readyz", READY_TIMEOUT_S) for p, port in started)
        )
        self._timekeeper, port = await common.start_role(
            self._run, "timekeeper", "timekeeper", self._env("bench-timekeeper")
        )
        await self._timekeeper.wait_http_ok(f"http://127.0.0.1:{port}/readyz", READY_TIMEOUT_S)

    def load_lead(self, jobs: int) -> float:
        # Jobs are written 7,000-8,000 a second on 2 busy cores (200,100 took 25-27.5 s where 20,000/s was assumed).
        return 3.0 + jobs / 5_000

    async def load(self, jobs: Sequence[JobSpec]) -> None:
        assert self._run is not None
        self._jobs = jobs
        await common.load_jobs(self._helper, self._run, self._url, jobs)

    def roles(self) -> Roles:
        processes = [p for p in (self._timekeeper, *self._workers) if p is not None]
        scheduler = (self._timekeeper.pid,) if self._timekeeper is not None else ()
        return Roles(tuple(p.pid for p in processes), scheduler)

    async def stop(self) -> None:
        if self._timekeeper is not None:
            await self._timekeeper.stop()
        await asyncio.gather(*(p.stop() for p in self._workers))

    async def collect(self) -> list[Accounted]:
        assert self._run is not None
        accounted, self.statuses = await common.collect_accounted(self._helper, self._run, self._url, self._jobs)
        return accounted

    async def teardown(self) -> None:
        await self._helper.close()
        for process in [self._timekeeper, *self._workers]:
            if process is not None:
                await process.stop(timeout=5)
        if self._database:
            await pg.drop_database(self._database)
        if self._queue:
            await amqp.delete([self._queue])

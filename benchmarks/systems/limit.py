"""The limits: a hand-written publisher of persistent confirmed messages and 2 consumers that insert a run row and
update it, on the same PostgreSQL and RabbitMQ; every figure of the other systems can be read as a fraction of
these. `limit` (benchmarks/systems/limit_node.py) does it one run at a time; `limit-batched`
(limit_batched_node.py) with this product's own batching: many runs per message, multi-row inserts and updates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import asyncpg

from benchmarks.harness import amqp, pg
from benchmarks.harness.model import JobSpec, Roles, RunDir, System
from benchmarks.harness.procs import REPO_ROOT, ManagedProcess, clean_env
from benchmarks.systems.limit_node import SCHEMA

CONSUMERS = 2
READY_TIMEOUT_S = 30.0


class LimitPipeline(System):
    name = "limit"
    label = "limit pipeline"
    #: the module whose `publisher` and `consumer` roles this system runs
    node = "benchmarks.systems.limit_node"

    def __init__(self) -> None:
        self._run: RunDir | None = None
        self._database = ""
        self._queue = ""
        self._publisher: ManagedProcess | None = None
        self._consumers: list[ManagedProcess] = []

    def describe(self) -> str:
        return (
            "limit: 1 publisher (in-memory heap of slots, persistent messages, publisher confirms) + "
            f"{CONSUMERS} consumers (prefetch 64, 8 connections each: INSERT run row, task, UPDATE row, ack)"
        )

    def database_name(self) -> str:
        return self._database

    def _env(self) -> dict[str, str]:
        assert self._run is not None
        return clean_env(
            PYTHONPATH=str(REPO_ROOT),
            BENCH_RECORD_DIR=str(self._run.records),
            BENCH_LIMIT_QUEUE=self._queue,
            BENCH_LIMIT_DSN=pg.dsn(self._database),
            BENCH_AMQP_URL=amqp.AMQP_URL,
        )

    def _argv(self, *args: str) -> list[str]:
        import sys

        return [sys.executable, "-m", self.node, *args]

    async def setup(self, run: RunDir, run_id: str) -> None:
        self._run = run
        self._database = f"bench_{run_id}"
        self._queue = f"bench.{run_id}.runs"
        await pg.create_database(self._database)
        connection = await asyncpg.connect(pg.dsn(self._database))
        try:
            await connection.execute(SCHEMA)
        finally:
            await connection.close()

    async def start(self) -> None:
        assert self._run is not None
        for i in range(1, CONSUMERS + 1):
            process = await ManagedProcess.spawn(f"consumer-{i}", self._argv("consumer"), self._env(), self._run.logs)
            self._consumers.append(process)
        await asyncio.gather(*(p.wait_for_log("consumer ready", READY_TIMEOUT_S) for p in self._consumers))

    def load_lead(self, jobs: int) -> float:
        return 2.0 + jobs / 50_000

    async def load(self, jobs: Sequence[JobSpec]) -> None:
        assert self._run is not None
        path = self._run.root / "jobs.json"
        path.write_text(json.dumps([[j.job_id, j.first, j.period] for j in jobs]))
        self._publisher = await ManagedProcess.spawn(
            "publisher", self._argv("publisher", str(path)), self._env(), self._run.logs
        )
        await self._publisher.wait_for_log("publisher ready", READY_TIMEOUT_S)

    def roles(self) -> Roles:
        processes = [p for p in (self._publisher, *self._consumers) if p is not None]
        scheduler = (self._publisher.pid,) if self._publisher is not None else ()
        return Roles(tuple(p.pid for p in processes), scheduler)

    async def stop(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()
        await asyncio.gather(*(p.stop() for p in self._consumers))

    async def teardown(self) -> None:
        for process in [self._publisher, *self._consumers]:
            if process is not None:
                await process.stop(timeout=5)
        self._publisher, self._consumers = None, []
        if self._database:
            await pg.drop_database(self._database)
        if self._queue:
            await amqp.delete([self._queue])


class LimitBatched(LimitPipeline):
    name = "limit-batched"
    label = "batched limit"
    node = "benchmarks.systems.limit_batched_node"

    def describe(self) -> str:
        return (
            "limit-batched: 1 publisher (passes >= 20 ms apart publish every slot due within 50 ms, 16 runs per "
            f"persistent confirmed message) + {CONSUMERS} consumers (prefetch 64; one multi-row INSERT claims every "
            "message that arrived meanwhile, each task starts at its slot, one multi-row UPDATE per 20 ms records "
            "the finished runs, then ack)"
        )

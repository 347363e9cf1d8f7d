"""Celery 5 beat + 2 solo workers on RabbitMQ (the most common choice), from the bench venv.

Defaults otherwise: prefetch multiplier 4, acks early, no result backend (ignore_result), INFO logging like
every other system. Workers run without gossip/mingle and without remote control, which only keeps the
shared broker free of their control queues."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import amqp
from benchmarks.harness.model import JobSpec, Roles, RunDir, System
from benchmarks.harness.procs import REPO_ROOT, ManagedProcess, clean_env

WORKERS = 2
READY_TIMEOUT_S = 60.0


class CeleryBeat(System):
    name = "celery-beat"
    label = "Celery beat"
    uses_postgres = False

    def __init__(self) -> None:
        self._run: RunDir | None = None
        self._queue = ""
        self._beat: ManagedProcess | None = None
        self._workers: list[ManagedProcess] = []

    def describe(self) -> str:
        import celery

        return (
            f"Celery {celery.__version__} beat (in-memory scheduler, fixed-rate entries) + {WORKERS} workers "
            "`-P solo` on RabbitMQ; no result backend"
        )

    def _env(self, jobs: Path | None = None) -> dict[str, str]:
        assert self._run is not None
        env = clean_env(
            PYTHONPATH=str(REPO_ROOT),
            BENCH_RECORD_DIR=str(self._run.records),
            BENCH_CELERY_QUEUE=self._queue,
            BENCH_AMQP_URL=amqp.AMQP_URL,
        )
        if jobs is not None:
            env["BENCH_CELERY_JOBS"] = str(jobs)
        return env

    @staticmethod
    def _celery(*args: str) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "benchmarks.systems.celery_app", *args]

    async def setup(self, run: RunDir, run_id: str) -> None:
        self._run = run
        self._queue = f"bench.{run_id}.celery"

    async def start(self) -> None:
        assert self._run is not None
        for i in range(1, WORKERS + 1):
            argv = self._celery("worker", "-P", "solo", "-n", f"bench{i}@%h", "-l", "INFO")
            argv += ["--without-gossip", "--without-mingle", "-Q", self._queue]
            self._workers.append(await ManagedProcess.spawn(f"worker-{i}", argv, self._env(), self._run.logs))
        await asyncio.gather(*(w.wait_for_log(r"ready\.", READY_TIMEOUT_S) for w in self._workers))

    def load_lead(self, jobs: int) -> float:
        return 4.0 + jobs / 10_000

    async def load(self, jobs: Sequence[JobSpec]) -> None:
        assert self._run is not None
        path = self._run.root / "jobs.json"
        path.write_text(json.dumps([[j.job_id, j.first, j.period] for j in jobs]))
        argv = self._celery("beat", "-S", "benchmarks.systems.celery_app:BenchScheduler", "-l", "INFO")
        argv += ["--pidfile=", "-s", str(self._run.root / "celerybeat-schedule")]
        self._beat = await ManagedProcess.spawn("beat", argv, self._env(path), self._run.logs)
        await self._beat.wait_for_log("bench schedule loaded", READY_TIMEOUT_S + len(jobs) / 2000)

    def roles(self) -> Roles:
        processes = [p for p in (self._beat, *self._workers) if p is not None]
        scheduler = (self._beat.pid,) if self._beat is not None else ()
        return Roles(tuple(p.pid for p in processes), scheduler)

    async def stop(self) -> None:
        if self._beat is not None:
            await self._beat.stop()
        await asyncio.gather(*(w.stop() for w in self._workers))

    async def teardown(self) -> None:
        for process in [self._beat, *self._workers]:
            if process is not None:
                await process.stop(timeout=5)
        self._beat, self._workers = None, []
        if self._queue:
            await amqp.delete([self._queue], [self._queue])

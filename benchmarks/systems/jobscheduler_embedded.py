"""This product in embedded mode: one `jobscheduler embedded` process (api + timekeeper + executor, in-process
broker) over SQLite (its default) or over PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.harness import pg
from benchmarks.harness.model import Accounted, JobSpec, Roles, RunDir, System
from benchmarks.harness.procs import ManagedProcess
from benchmarks.systems import jobscheduler_common as common

READY_TIMEOUT_S = 60.0


class JobschedulerEmbedded(System):
    uses_rabbitmq = False

    def __init__(self, database: str = "sqlite") -> None:
        self.backend = database
        self.name = "jobscheduler-embedded" if database == "sqlite" else "jobscheduler-embedded-pg"
        self.label = "jobscheduler embedded" + ("" if database == "sqlite" else " (PostgreSQL)")
        self.uses_postgres = database == "postgresql"
        self._run: RunDir | None = None
        self._database = ""
        self._url = ""
        self._process: ManagedProcess | None = None
        self._jobs: Sequence[JobSpec] = ()
        self.statuses: dict[str, Any] = {}
        self._helper = common.DatabaseHelper()

    def describe(self) -> str:
        where = "SQLite file (its default)" if self.backend == "sqlite" else "PostgreSQL"
        return f"this product, embedded: one process (api + timekeeper + executor, in-process broker) over {where}"

    def database_name(self) -> str | None:
        return self._database or None

    async def setup(self, run: RunDir, run_id: str) -> None:
        self._run = run
        if self.backend == "sqlite":
            self._url = common.sqlite_url(run.root / "data" / "scheduler.db")
        else:
            self._database = f"bench_{run_id}"
            self._url = common.database_url_for(self._database)
            await pg.create_database(self._database, template=await common.template_database())

    async def start(self) -> None:
        assert self._run is not None
        await self._helper.start()
        env = common.product_env(
            self._run,
            self._url,
            SCHEDULER_INSTANCE_NAME="bench-embedded",
            SCHEDULER_DATA_DIR=str(self._run.root / "data"),
        )
        self._process, port = await common.start_role(self._run, "embedded", "embedded", env)
        await self._process.wait_http_ok(f"http://127.0.0.1:{port}/readyz", READY_TIMEOUT_S)

    def load_lead(self, jobs: int) -> float:
        # SQLite has no cross-process wake-up: the idle timekeeper looks again within its 5 s max sleep.
        return 3.0 + jobs / 20_000 + (5.5 if self.backend == "sqlite" else 0.0)

    async def load(self, jobs: Sequence[JobSpec]) -> None:
        assert self._run is not None
        self._jobs = jobs
        await common.load_jobs(self._helper, self._run, self._url, jobs)

    def roles(self) -> Roles:
        pids = (self._process.pid,) if self._process is not None else ()
        return Roles(pids, pids)

    async def stop(self) -> None:
        if self._process is not None:
            await self._process.stop()

    async def collect(self) -> list[Accounted]:
        assert self._run is not None
        accounted, self.statuses = await common.collect_accounted(self._helper, self._run, self._url, self._jobs)
        return accounted

    async def teardown(self) -> None:
        await self._helper.close()
        if self._process is not None:
            await self._process.stop(timeout=5)
        if self._database:
            await pg.drop_database(self._database)

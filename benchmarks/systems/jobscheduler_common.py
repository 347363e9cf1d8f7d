"""What both modes of this product share: its processes run from the product's own venv through its CLI
(`python -m scheduler_cli ROLE`), with the benchmark task module on SCHEDULER_TASK_MODULES, and jobs are
written by benchmarks/systems/jobscheduler_db.py in that same venv."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import pg
from benchmarks.harness.amqp import AMQP_URL
from benchmarks.harness.model import Accounted, JobSpec, RunDir
from benchmarks.harness.procs import PRODUCT_PYTHON, REPO_ROOT, ManagedProcess, clean_env, free_port, run_checked
from benchmarks.harness.records import PENDING, slot_index

TASK_MODULES = ["scheduler_core.tasks.builtin", "benchmarks.bench_tasks"]
# One per bench process: a fixed name was dropped (WITH FORCE) by another worktree's bench mid-migration.
TEMPLATE_DB = f"bench_tpl_jobscheduler_{os.getpid()}"
STATUS_REASONS = {1: PENDING, 5: "missed", 6: "skipped"}

_template_ready = False


def product_env(run: RunDir, database_url: str | None, **extra: str) -> dict[str, str]:
    env = clean_env(
        PYTHONPATH=str(REPO_ROOT),
        BENCH_RECORD_DIR=str(run.records),
        SCHEDULER_AMQP_URL=AMQP_URL,
        SCHEDULER_TASK_MODULES=json.dumps(TASK_MODULES),
        SCHEDULER_LOG_FORMAT="json",
        **extra,
    )
    if database_url is not None:
        env["SCHEDULER_DATABASE_URL"] = database_url
    return env


async def template_database() -> str:
    """A migrated database, made once per benchmark session; runs get copies (CREATE DATABASE ... TEMPLATE)."""
    global _template_ready
    if not _template_ready:
        await pg.create_database(TEMPLATE_DB)
        env = clean_env(SCHEDULER_DATABASE_URL=pg.sqlalchemy_url(TEMPLATE_DB))
        await run_checked([str(PRODUCT_PYTHON), "-m", "scheduler_cli", "migrate"], env, timeout=120)
        _template_ready = True
    return TEMPLATE_DB


async def drop_template() -> None:
    global _template_ready
    await pg.drop_database(TEMPLATE_DB)
    _template_ready = False


async def start_role(run: RunDir, name: str, role: str, env: dict[str, str], *args: str) -> tuple[ManagedProcess, int]:
    port = free_port()
    process = await ManagedProcess.spawn(
        name, [str(PRODUCT_PYTHON), "-m", "scheduler_cli", role, "--port", str(port), *args], env, run.logs
    )
    return process, port


async def load_jobs(
    helper: DatabaseHelper, run: RunDir, database_url: str, jobs: Sequence[JobSpec], task: str = ""
) -> None:
    """task: the task function's key (default: the no-op that records its start)."""
    path = run.root / "jobs.json"
    path.write_text(json.dumps([[j.job_id, j.first, j.period] for j in jobs]))
    await helper.call("load", database_url, str(path), *([task] if task else []))


async def outcomes(helper: DatabaseHelper, run: RunDir, database_url: str, min_job_id: int) -> dict[str, Any]:
    """Counts of the bench jobs' executions by status, and of failed ones by reason."""
    path = run.root / "outcomes.json"
    await helper.call("outcomes", database_url, str(path), str(min_job_id))
    result: dict[str, Any] = json.loads(path.read_text())
    return result


async def collect_accounted(
    helper: DatabaseHelper, run: RunDir, database_url: str, jobs: Sequence[JobSpec]
) -> tuple[list[Accounted], dict[str, Any]]:
    """Missed/skipped executions, and every slot folded into a coalesced one; plus counts by status."""
    path = run.root / "collected.json"
    min_id = min((j.job_id for j in jobs), default=0)
    await helper.call("collect", database_url, str(path), str(min_id))
    data = json.loads(path.read_text())
    by_id = {j.job_id: j for j in jobs}
    accounted: list[Accounted] = []
    for job_id, slot, status, count, coalesced_from in data["accounted"]:
        reason = STATUS_REASONS.get(status, "coalesced")
        accounted.append(Accounted(job_id, slot, reason))
        job = by_id.get(job_id)
        if count > 1 and coalesced_from is not None and job is not None:
            k0, k1 = slot_index(job, coalesced_from), slot_index(job, slot)
            if k0 is not None and k1 is not None:
                accounted += [Accounted(job_id, job.first + k * job.period, "coalesced") for k in range(k0, k1)]
    statuses = dict(data["statuses"])
    statuses["stages_ms"] = data.get("stages", {})
    return accounted, statuses


def database_url_for(database: str) -> str:
    return pg.sqlalchemy_url(database)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path.resolve()}"


class DatabaseHelper:
    """A `jobscheduler_db serve` process in the product's venv, started before the jobs are needed."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            str(PRODUCT_PYTHON),
            "-m",
            "benchmarks.systems.jobscheduler_db",
            "serve",
            env=clean_env(PYTHONPATH=str(REPO_ROOT)),
            cwd=REPO_ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    async def call(self, *words: str, timeout: float = 300.0) -> None:
        if self._process is None:
            await self.start()
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        async with self._lock:
            process.stdin.write(("\t".join(words) + "\n").encode())
            await process.stdin.drain()
            answer = (await asyncio.wait_for(process.stdout.readline(), timeout)).decode().strip()
        if answer != "ok":
            raise RuntimeError(f"jobscheduler_db {words[0]}: {answer or 'helper exited'}")

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

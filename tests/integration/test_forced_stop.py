"""Ctrl-C twice (issue 20): the first SIGINT starts the graceful stop (running tasks get SCHEDULER_SHUTDOWN_GRACE,
30 s here); a second one stops the process at once, recording what was running as failed with the reason, and the
process exits with code 130, also when a task blocks a thread that cannot be stopped. Real processes: `jobscheduler
embedded`, and a standalone executor over PostgreSQL and RabbitMQ.

The time from the second SIGINT to the process's exit is measured and printed; the target is a second, asserted
with a generous bound (FORCED_EXIT_BOUND_S) for a busy machine."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.bootstrap import FORCED_EXIT_CODE
from scheduler_core.store.models import ExecutionStatus
from tests.support.cluster import Cluster, create_job, eventually, executions, kill_leftovers, register_test_tasks
from tests.support.processes import TEST_TASK_MODULES, free_port
from tests.support.product import API, clean_env, product, read_banner, token_from_banner, wait_ready
from tests.support.rabbit import RabbitAdmin

# Seconds the process may take to exit after the second SIGINT: the target is 1 s; this bound allows for a busy
# 2-core machine (the graceful stop it cuts short would take SCHEDULER_SHUTDOWN_GRACE, 30 s).
FORCED_EXIT_BOUND_S: Final = 5.0
GRACE_S: Final = "30"
# Seconds between the two interrupts: the first stop is under way (the executor waits out its grace).
BETWEEN_INTERRUPTS_S: Final = 1.0
FORCED: Final = "shutdown forced by a second interrupt"


def hang_parameters(tmp_path: Path, name: str) -> dict[str, Any]:
    return {"log": str(tmp_path / f"{name}.log"), "end_log": str(tmp_path / f"{name}.end"), "seconds": 600}


async def interrupt_twice(process: asyncio.subprocess.Process) -> float:
    """SIGINT, a pause, SIGINT; returns the seconds from the second one to the process's exit."""
    process.send_signal(signal.SIGINT)
    await asyncio.sleep(BETWEEN_INTERRUPTS_S)
    assert process.returncode is None, "the first interrupt must not end it before its grace period"
    forced_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.wait(), 60)
    return time.monotonic() - forced_at


async def test_embedded_mode_stops_at_once_on_a_second_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = clean_env(SCHEDULER_TASK_MODULES=json.dumps(TEST_TASK_MODULES), SCHEDULER_SHUTDOWN_GRACE=GRACE_S)
    log = tmp_path / "embedded.log"
    async with product(["embedded", "--port", str(port), "--data-dir", str(data_dir)], env, log) as process:
        banner = await read_banner(process)
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process=process)
        headers = {"Authorization": f"Bearer {token_from_banner(banner)}"}
        async with httpx.AsyncClient(base_url=base_url + API, headers=headers, timeout=10) as client:
            functions = {f["key"]: f["id"] for f in (await client.get("/task-functions")).raise_for_status().json()}
            runs = []
            for task in ("hang", "block"):  # a coroutine, and a thread nothing can stop
                body = {
                    "taskFunctionId": functions[task],
                    "intervalHours": 1,
                    "parameters": hang_parameters(tmp_path, task),
                }
                job = (await client.post("/jobs", json=body)).raise_for_status().json()
                action = await client.post(f"/jobs/{job['id']}/action", json={"action": "trigger"})
                runs.append(action.raise_for_status().json()["executionId"])

            async def both_running() -> bool | None:
                page = (await client.get("/history", params={"per_page": 10})).raise_for_status().json()
                running = {row["executionId"] for row in page["items"] if row["statusName"] == "running"}
                started = all((tmp_path / f"{task}.log").exists() for task in ("hang", "block"))
                return True if set(runs) <= running and started else None

            await eventually(both_running, 30, "both runs running")

        elapsed = await interrupt_twice(process)
        stderr = log.read_text()

    print(f"embedded: exited {elapsed:.3f} s after the second SIGINT")
    assert process.returncode == FORCED_EXIT_CODE, stderr[-3000:]
    assert elapsed < FORCED_EXIT_BOUND_S, stderr[-3000:]
    assert "stopped by a second interrupt" in stderr
    with sqlite3.connect(data_dir / "scheduler.db") as connection:
        rows = connection.execute(
            f"SELECT execution_id, status_id, error_message FROM scheduled_job_execution "
            f"WHERE execution_id IN ({', '.join('?' for _ in runs)})",
            runs,
        ).fetchall()
        running = connection.execute("SELECT count(*) FROM scheduled_job_execution WHERE status_id = 2").fetchone()
    assert len(rows) == 2
    for execution_id, status_id, error_message in rows:
        assert status_id == ExecutionStatus.FAILED, (execution_id, error_message)
        assert FORCED in error_message, error_message
    assert running == (0,), "no run left running"


@pytest.fixture
async def cluster(
    pg_engine: AsyncEngine, postgres_url: str, amqp_url: str, rabbit: RabbitAdmin, tmp_path: Path
) -> AsyncIterator[Cluster]:
    queue = f"forced-stop-{uuid.uuid4().hex}"
    rabbit.queue_names.append(queue)
    await register_test_tasks(pg_engine)
    built = Cluster(postgres_url, amqp_url, queue, tmp_path)
    try:
        yield built
    finally:
        await built.stop()
        kill_leftovers()


async def test_an_executor_stops_at_once_on_a_second_ctrl_c(
    cluster: Cluster, pg_engine: AsyncEngine, tmp_path: Path
) -> None:
    await cluster.timekeepers()
    [executor] = await cluster.executors(env={"SCHEDULER_SHUTDOWN_GRACE": GRACE_S})
    jobs = [
        await create_job(
            pg_engine, task=task, interval_seconds=3600, first_in=0.5, parameters=hang_parameters(tmp_path, task)
        )
        for task in ("hang", "block")
    ]

    async def both_running() -> list[str] | None:
        rows = [row for job in jobs for row in await executions(pg_engine, job.job_id)]
        started = all((tmp_path / f"{task}.log").exists() for task in ("hang", "block"))
        running = [row.execution_id for row in rows if row.status_id == ExecutionStatus.RUNNING]
        return running if len(running) == 2 and started else None

    runs = await eventually(both_running, 60, f"both runs running\n{cluster.tails()}")

    elapsed = await interrupt_twice(executor.process)

    print(f"executor: exited {elapsed:.3f} s after the second SIGINT")
    assert executor.process.returncode == FORCED_EXIT_CODE, executor.log_tail()
    assert elapsed < FORCED_EXIT_BOUND_S, executor.log_tail()
    rows = {row.execution_id: row for job in jobs for row in await executions(pg_engine, job.job_id)}
    for execution_id in runs:
        assert rows[execution_id].status_id == ExecutionStatus.FAILED, rows[execution_id].error_message
        assert FORCED in (rows[execution_id].error_message or "")
    assert '"event": "stop_forced"' in executor.log_path.read_text()

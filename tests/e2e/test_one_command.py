"""The quick start, as a newcomer runs it: `make run`'s command (embedded mode) and the local standalone
stack, each started as a subprocess, used through the API with the printed token, then stopped with
Ctrl-C (SIGINT) and expected to exit cleanly with no run left running."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tests.support.databases import fresh_postgres_database, postgres_server
from tests.support.processes import free_port
from tests.support.product import clean_env, product, read_banner, run_an_interval_job, token_from_banner, wait_ready
from tests.support.rabbit import RabbitAdmin


async def test_make_run_serves_the_product_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    args = ["embedded", "--port", str(port), "--data-dir", str(data_dir)]
    async with product(args, clean_env(), tmp_path / "embedded.log") as process:
        banner = await read_banner(process)
        base_url = f"http://127.0.0.1:{port}"
        assert base_url in banner
        await wait_ready(base_url, process=process)
        run = await run_an_interval_job(base_url, token_from_banner(banner))
        assert run["executorId"]
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0, (tmp_path / "embedded.log").read_text()[-3000:]

    with sqlite3.connect(data_dir / "scheduler.db") as connection:
        running = connection.execute("SELECT count(*) FROM scheduled_job_execution WHERE status_id = 2").fetchone()
        primary = connection.execute("SELECT count(*) FROM scheduled_job WHERE is_primary = 1").fetchone()
    assert running == (0,)
    assert primary == (1,), "the seeded history-cleanup job exists"


async def test_the_local_standalone_stack_serves_the_product_and_stops_cleanly(
    tmp_path: Path, amqp_url: str, rabbit: RabbitAdmin
) -> None:
    port, health_port = free_port(), free_port()
    queue = f"test-stack-{uuid.uuid4().hex}"
    rabbit.queue_names.append(queue)
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        env = clean_env(
            SCHEDULER_DATABASE_URL=url,
            SCHEDULER_AMQP_URL=amqp_url,
            SCHEDULER_QUEUE_NAME=queue,
            SCHEDULER_DATA_DIR=str(tmp_path / "data"),
            SCHEDULER_HEALTH_PORT=str(health_port),
            SCHEDULER_SHUTDOWN_GRACE="5",
        )
        args = ["stack", "--port", str(port), "--timekeepers", "2", "--executors", "2"]
        log = tmp_path / "stack.log"
        async with product(args, env, log) as process:
            banner = await read_banner(process)
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url, process=process)
            run = await run_an_interval_job(base_url, token_from_banner(banner))
            process.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(process.wait(), 90) == 0, log.read_text()[-3000:]

        connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
        try:
            roles = await connection.fetch("SELECT role, status FROM scheduler_instance ORDER BY role")
            running = await connection.fetchval("SELECT count(*) FROM scheduled_job_execution WHERE status_id = 2")
        finally:
            await connection.close()
    assert sorted(r["role"] for r in roles) == ["api", "executor", "executor", "timekeeper", "timekeeper"]
    assert {r["status"] for r in roles} == {"stopped"}, "every process deregistered on the way out"
    assert running == 0
    assert run["hostName"]

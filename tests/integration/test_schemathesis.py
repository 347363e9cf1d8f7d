"""Schemathesis, as CI would run it: `st run --checks all` with every phase (examples, coverage, fuzzing and the
stateful phase, which chains create, read, update, act and delete through the schema's links) over every
operation of the API, served by uvicorn on loopback over PostgreSQL as a Super Admin. Zero failures: no 5xx, every
answer as documented (status, content type, headers, body), schema-violating requests refused, schema-valid ones
accepted (tests/integration/schemathesis.toml says the one tuning, and why), 405 with Allow for other methods,
auth enforced, a created job readable and a deleted one gone.

Bounded: EXAMPLES_PER_OPERATION cases per operation and phase, about a minute on a 2-core machine."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_api.app import create_app
from scheduler_core.auth.tokens import mint_super_admin_token
from scheduler_core.observability.http_server import HttpServer
from scheduler_core.store import NewExecution, TaskFunctionSpec
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus
from scheduler_core.tasks import TaskRegistry
from tests.integration.api.support import SECRET, api_settings
from tests.support.measurements import measured
from tests.support.processes import free_port
from tests.support.stores import store_of

CONFIG: Final = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS: Final = Path(sys.executable).with_name("st")
# Cases per operation in each phase: every documented status of each route is reached, within the time below.
EXAMPLES_PER_OPERATION: Final = 40
# Seconds the whole run may take on a loaded 2-core machine (it takes about a minute).
RUN_TIMEOUT_S: Final = 300


async def seed(engine: AsyncEngine) -> None:
    """Task functions, a primary job and three others (so that generated ids often exist), and a few runs."""
    maker = create_sessionmaker(engine)
    async with maker.begin() as session:
        store = store_of(session)
        specs = TaskRegistry.from_modules(["scheduler_core.tasks.builtin"]).specs()
        await store.lookups.upsert_task_functions(session, [*specs, TaskFunctionSpec("spare", "Spare", "احتياط")])
        noop = await store.lookups.task_function_by_key(session, "noop")
        cleanup = await store.lookups.task_function_by_key(session, "cleanup_history")
        assert noop is not None
        assert cleanup is not None
        now = await store.clock.now(session)
        jobs: list[dict[str, Any]] = [
            {"task_function_id": cleanup.id, "job_type_id": 2, "cron_expression": "0 3 * * *", "is_primary": True},
            {"task_function_id": noop.id, "job_type_id": 1, "interval_minutes": 5},
            {
                "task_function_id": noop.id,
                "job_type_id": 2,
                "cron_expression": "0 2 * * *",
                "timezone": "Europe/Berlin",
            },
            {"task_function_id": noop.id, "job_type_id": 1, "interval_seconds": 30, "is_enabled": False},
        ]
        for index, values in enumerate(jobs):
            enabled = values.get("is_enabled", True)
            job = await store.jobs.create(
                session, {"name_en": f"seed {index}", "next_run_at": now + timedelta(minutes=5) if enabled else None}
                | values,
            )  # fmt: skip
            await store.outbox.add(
                session,
                [
                    NewExecution(str(uuid.uuid4()), job.id, now - timedelta(minutes=minute), status_id=status)
                    for minute, status in enumerate(ExecutionStatus)
                ],
            )


async def test_every_check_over_every_operation_and_the_stateful_phase(pg_engine: AsyncEngine, tmp_path: Path) -> None:
    await seed(pg_engine)
    settings = api_settings(database_url=pg_engine.url.render_as_string(hide_password=False))
    token = mint_super_admin_token(settings, SECRET, ttl=timedelta(hours=1))
    app = create_app(settings, instance_id=str(uuid.uuid4()))
    port = free_port()
    env = {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "--no-color",
        "run", f"http://127.0.0.1:{port}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--workers", "1",
        "--header", f"Authorization: Bearer {token}",
        "--request-timeout", "30",
    ]  # fmt: skip
    began = time.monotonic()
    async with HttpServer(app, "127.0.0.1", port, lifespan="on"):
        process = await asyncio.create_subprocess_exec(  # in tmp_path: schemathesis keeps a cache where it runs
            *command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    report = output.decode(errors="replace")
    print(report[-3_000:])  # the summary, in the test's output (pytest -s, or the CI log of a failure)

    assert process.returncode == 0, report[-12_000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected is not None, report[-4_000:]
    chosen, total, tested = map(int, selected.groups())
    assert chosen == total == tested >= 18, report[-4_000:]  # every operation of the schema, none skipped
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}\b", report), f"{phase} did not pass:\n{report[-4_000:]}"
    assert re.search(r"API Links:\s+\d+ covered", report), report[-4_000:]  # the stateful phase chained calls
    measured("schemathesis_operations", tested)
    measured("schemathesis_seconds", time.monotonic() - began)

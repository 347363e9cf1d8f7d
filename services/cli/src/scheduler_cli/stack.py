"""`jobscheduler stack`: the standalone services as separate processes on one machine, for development —
api + N timekeepers + M executors over PostgreSQL and RabbitMQ, their logs interleaved in one place
(this terminal, each line prefixed with its process), all stopped together on Ctrl-C.

Production runs each role under its own supervisor (Kubernetes, compose); this is the same processes,
started the same way, so what works here works there."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import structlog
from sqlalchemy.engine import make_url

from scheduler_core.auth.tokens import jwt_secret, mint_super_admin_token
from scheduler_core.bootstrap import stop_on_signals
from scheduler_core.observability.logging import configure_logging
from scheduler_core.settings import Settings
from scheduler_core.store.backends import backend_for
from scheduler_core.store.engine import open_engine
from scheduler_core.store.migration import upgrade

log = structlog.get_logger(__name__)

# Seconds the children get beyond the executor's shutdown grace before they are killed.
STOP_MARGIN_S = 10.0


@dataclass
class Child:
    name: str
    args: list[str]
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None


async def serve_stack(
    settings: Settings, *, timekeepers: int, executors: int, log_file: Path | None, stop: asyncio.Event | None = None
) -> int:
    """Run the stack until Ctrl-C (or `stop`, or a child dying); returns the exit code."""
    configure_logging(settings.log_level, settings.log_format)
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    url = settings.resolved_database_url()
    await backend_for(url).ensure_database(url)
    async with open_engine(url, pool_size=1) as engine:
        await upgrade(engine)
    secret = jwt_secret(settings, generate=True)
    env = {**os.environ, "SCHEDULER_DATABASE_URL": url, "SCHEDULER_JWT_SECRET": secret}

    children = [Child("api", ["api", "--port", str(settings.port)])]
    children += [
        Child(f"timekeeper-{i + 1}", ["timekeeper", "--port", str(settings.health_port + i)])
        for i in range(timekeepers)
    ]
    children += [
        Child(f"executor-{i + 1}", ["executor", "--port", str(settings.health_port + timekeepers + i)])
        for i in range(executors)
    ]
    sink = log_file.open("a", encoding="utf-8") if log_file else None
    width = max(len(c.name) for c in children)
    try:
        for child in children:
            child.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "scheduler_cli", *child.args,
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            child.pump = asyncio.create_task(_pump(child, width, sink))
        token = mint_super_admin_token(settings, secret)
        sys.stdout.write(
            f"\njobscheduler stack: api on http://{settings.host}:{settings.port}, {timekeepers} timekeeper(s), "
            f"{executors} executor(s), database {make_url(url).render_as_string(hide_password=True)}\n"
            f"Super Admin token:\n\n{token}\n\nPress Ctrl-C to stop them all.\n"
        )
        sys.stdout.flush()
        died = await _until_stop_or_death(stop, children)
    finally:
        await _stop_all(children, settings.shutdown_grace + STOP_MARGIN_S)
        if sink:
            sink.close()
    if died is not None:
        log.error("stack_child_died", child=died.name, returncode=died.process.returncode if died.process else None)
        return 1
    failed = [c.name for c in children if c.process and c.process.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0


async def _pump(child: Child, width: int, sink: TextIO | None) -> None:
    assert child.process is not None
    assert child.process.stdout is not None
    prefix = f"{child.name:<{width}} | "
    async for raw in child.process.stdout:
        line = prefix + raw.decode(errors="replace").rstrip("\n")
        sys.stderr.write(line + "\n")
        if sink is not None:
            sink.write(line + "\n")


async def _until_stop_or_death(stop: asyncio.Event, children: list[Child]) -> Child | None:
    waits = {asyncio.create_task(c.process.wait()): c for c in children if c.process}
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({stopper, *waits}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [stopper, *waits]:
            task.cancel()
    for task in done:
        if task in waits:
            return waits[task]
    return None


async def _stop_all(children: list[Child], timeout: float) -> None:
    running = [c.process for c in children if c.process and c.process.returncode is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    for child in children:
        if child.process is None or child.process not in running:
            continue
        try:
            await asyncio.wait_for(child.process.wait(), timeout)
        except TimeoutError:
            log.warning("stack_child_killed", child=child.name)
            child.process.kill()
            await child.process.wait()
    for child in children:
        if child.pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await child.pump

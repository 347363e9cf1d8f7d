"""What a chaos run observed, read back once it is over: the execution rows and instance rows (from the database,
directly), the scheduler's own picture of its processes (`/status` from the api, as an operator sees it), and the
harness's records of faults, exits and starts. Plain data: tests.chaos.verdict judges it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, SchedulerInstance
from tests.chaos.injector import Applied, Exit, Start
from tests.chaos.plan import Fault
from tests.chaos.servers import Outage
from tests.faults.checker import Report
from tests.faults.overlap import Activity
from tests.support.cluster import db_now, executions
from tests.support.product import API

LOOK_EVERY_S: Final = 0.25  # seconds between looks at /status while it does not match the processes


@dataclass(frozen=True, slots=True)
class RunFact:
    execution_id: str
    job_id: int
    scheduled_at: datetime
    status: str  # pending, running, success, failed, missed, skipped
    trigger: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    executor_id: str = ""


@dataclass(frozen=True, slots=True)
class InstanceFact:
    id: str
    pid: int
    role: str
    status: str
    last_heartbeat: datetime


@dataclass(frozen=True, slots=True)
class JobFact:
    job_id: int
    name: str
    task: str
    max_instances: int


@dataclass
class Snapshot:
    """The cluster's picture of its processes at one moment, next to the processes that really run."""

    label: str
    live: dict[str, int]  # slot -> pid of its running process
    listed: list[dict[str, Any]] = field(default_factory=list)  # /status instances: id, role, processId, isLive
    rows: list[InstanceFact] = field(default_factory=list)  # every scheduler_instance row
    db_now: datetime | None = None
    waited_s: float = 0.0  # from the first look to this one
    error: str | None = None  # /status could not be read


@dataclass
class Facts:
    seed: int
    seconds: float
    planned: list[Fault]
    jobs: list[JobFact]
    history: Report
    activity: dict[str, Activity]  # segments of the work tasks' activity (tests.faults.overlap.read_segments)
    runs: list[RunFact]
    instances: list[InstanceFact]
    applied: list[Applied]
    exits: list[Exit]
    starts: list[Start]
    snapshots: list[Snapshot]
    problems: list[str]
    log_dir: str
    window_start: float = 0.0  # unix seconds: the fault plan's time zero
    outages: list[Outage] = field(default_factory=list)  # of the shared servers, not injected by the run


async def read_runs(engine: AsyncEngine) -> list[RunFact]:
    return [
        RunFact(
            row.execution_id,
            row.job_id,
            row.scheduled_at,
            ExecutionStatus(row.status_id).name.lower(),
            row.trigger,
            row.started_at,
            row.completed_at,
            row.error_message,
            row.executor_id,
        )
        for row in await executions(engine)
    ]


async def read_instances(engine: AsyncEngine) -> list[InstanceFact]:
    async with create_sessionmaker(engine)() as session:
        rows = (await session.execute(select(SchedulerInstance))).scalars().all()
        return [InstanceFact(r.id, r.process_id, r.role, r.status, r.last_heartbeat) for r in rows]


async def snapshot(
    engine: AsyncEngine,
    api_url: str,
    token: str,
    label: str,
    live: Mapping[str, int],
    findings: Callable[[Snapshot, float], list[str]],
    *,
    instance_timeout: float,
    wait: float,
) -> Snapshot:
    """Look at /status and the instance rows until `findings` finds nothing wrong, for up to `wait` seconds; the
    last look is returned (with how long it took)."""
    first = time.monotonic()
    while True:
        taken = Snapshot(label, dict(live), waited_s=round(time.monotonic() - first, 2))
        try:
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=5) as client:
                response = await client.get(f"{api_url}{API}/status")
            response.raise_for_status()
            taken.listed = [
                {key: item[key] for key in ("id", "role", "processId", "isLive", "status")}
                for item in response.json()["instances"]
            ]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            taken.error = f"{type(exc).__name__}: {exc}"
        taken.rows = await read_instances(engine)
        taken.db_now = await db_now(engine)
        if not findings(taken, instance_timeout) or time.monotonic() - first >= wait:
            return taken
        await asyncio.sleep(LOOK_EVERY_S)

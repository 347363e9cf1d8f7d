"""What every service of the API is given: sessions, the store, its configuration, the hook that wakes an
in-process timekeeper, and the metrics (runs the API records ended: cancelled before they started); with the two
steps several services share (a job under its row lock, the wake-up)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_api.errors import NotFound
from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import Store
from scheduler_core.store.models import ScheduledJob

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    mode: str  # "embedded" or "standalone": how this API runs
    instance_id: str  # this API process's scheduler_instance id
    instance_timeout: float  # seconds without a heartbeat after which an instance no longer counts as live
    max_priority: int  # highest job priority the broker honours (SCHEDULER_MAX_PRIORITY)
    audit_retention_days: int = 365  # days a cleanup keeps audit rows (SCHEDULER_AUDIT_RETENTION_DAYS)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    sessionmaker: async_sessionmaker[AsyncSession]
    store: Store
    config: ServiceConfig
    on_schedule_change: Callable[[], None] | None = None
    metrics: Metrics = field(default_factory=Metrics)

    async def locked_job(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        """The active job, row-locked for the rest of the transaction so concurrent changes serialise."""
        job = await self.store.jobs.lock(session, job_id)
        if job is None:
            raise job_not_found(job_id)
        return job

    def runs_cancelled(self, job_id: int, count: int) -> None:
        """After a commit that recorded `count` runs of the job cancelled before they started (the executors
        count those they stop)."""
        if count > 0:
            self.metrics.runs_recorded("cancelled", count)
            self.metrics.job_run(job_id, "cancelled", count)

    def schedule_changed(self) -> None:
        """After a commit that changed when a job fires: wake the in-process timekeeper, if any."""
        if self.on_schedule_change is None:
            return
        try:
            self.on_schedule_change()
        except Exception as exc:  # committed already; timekeepers still find the change on their next pass
            log.warning("schedule_change_hook_failed", error=str(exc))


def job_not_found(job_id: int) -> NotFound:
    return NotFound(f"job {job_id} does not exist")

"""The recovery sweep: declares silent instances stopped and fails the runs their executors held.

Detection bound for a run whose executor died: the executor's instance is declared stopped once its last
heartbeat is older than instance_timeout, and its run's lock expires lock_ttl after its last renewal;
whichever comes first, the next sweep (every sweep_interval) fails the run. So a killed executor's run is
marked failed at most min(instance_timeout, lock_ttl) + heartbeat_interval + sweep_interval seconds after
the kill (defaults: 20 + 5 + 5 = 30 s)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.db.repository import OrphanedRun, SchedulerRepository, db_now
from scheduler_core.observability.metrics import Metrics

log = structlog.get_logger(__name__)


class RecoverySweep:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        repository: SchedulerRepository,
        metrics: Metrics,
        *,
        instance_timeout: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._repository = repository
        self._metrics = metrics
        self._instance_timeout = timedelta(seconds=instance_timeout)

    async def run_once(self) -> list[OrphanedRun]:
        async with self._sessionmaker.begin() as session:
            now = await db_now(session)
            silent = await self._repository.mark_silent_instances_stopped(session, now - self._instance_timeout)
            orphans = await self._repository.fail_orphaned_runs(session, now)
        self._metrics.sweeps.inc()
        for instance_id in silent:
            log.warning("instance_declared_stopped", instance_id=instance_id)
        for orphan in orphans:
            log.warning(
                "orphaned_run_failed",
                job_id=orphan.job_id,
                execution_id=orphan.execution_id,
                executor_id=orphan.executor_id,
                reason=orphan.reason,
            )
        self._metrics.orphans.inc(len(orphans))
        return orphans

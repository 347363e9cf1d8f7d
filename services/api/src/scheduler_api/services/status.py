"""The scheduler's status: instances, counters, runs in progress."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from scheduler_api.services.context import ServiceContext
from scheduler_api.services.responses import execution_response
from scheduler_core.schemas import SchedulerInstanceResponse, SchedulerStatusResponse
from scheduler_core.store.models import SchedulerInstance

# Running executions listed on the status page.
STATUS_RUNNING_LIMIT: Final = 100


class StatusService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store
        self._config = context.config

    async def get_status(self) -> SchedulerStatusResponse:
        """Counters and instances. An instance is live when it has not stopped and its last heartbeat is younger
        than instance_timeout (a crashed process is live until then, or until a sweep marks it stopped)."""
        async with self._sessionmaker() as session:
            now = await self._store.clock.now(session)
            instances = await self._store.instances.active(session)
            total_jobs, enabled_jobs = await self._store.jobs.count(session)
            running = await self._store.history.count_running(session)
            in_progress = await self._store.history.running(session, STATUS_RUNNING_LIMIT)
            described = [self._instance_response(instance, now) for instance in instances]
            live = [instance for instance in described if instance.is_live]
            return SchedulerStatusResponse(
                is_running=bool(live),
                mode=self._config.mode,
                instance_id=self._config.instance_id,
                active_instances=len(live),
                total_jobs=total_jobs,
                enabled_jobs=enabled_jobs,
                running_executions=running,
                # The reference makes lastHeartbeat a required timestamp; with no live instance listed (this
                # API's own row was declared stopped), the best answer is the latest heartbeat of any, else now.
                last_heartbeat=max(
                    (instance.last_heartbeat for instance in live or described),
                    default=now,
                ),
                instances=described,
                executions_in_progress=[execution_response(execution) for execution in in_progress],
            )

    def _instance_response(self, instance: SchedulerInstance, now: datetime) -> SchedulerInstanceResponse:
        age = max(0.0, (now - instance.last_heartbeat).total_seconds())
        return SchedulerInstanceResponse(
            id=instance.id,
            name=instance.instance_name,
            role=instance.role,
            mode=instance.mode,
            status=instance.status,
            host_name=instance.host_name,
            process_id=instance.process_id,
            started_at=instance.started_at,
            last_heartbeat=instance.last_heartbeat,
            heartbeat_age_seconds=round(age, 3),
            is_live=age <= self._config.instance_timeout,
        )

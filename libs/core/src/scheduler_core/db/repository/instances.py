"""Scheduler instances: one row per running service process, kept alive by heartbeats."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.models import InstanceStatus, SchedulerInstance
from scheduler_core.db.repository.clock import db_now


class InstanceRepository:
    async def register_instance(self, session: AsyncSession, instance_data: Mapping[str, Any]) -> SchedulerInstance:
        """Insert the instance row; started_at and last_heartbeat come from the database clock."""
        now = await db_now(session)
        instance = SchedulerInstance(
            **{"status": InstanceStatus.STARTING, **instance_data}, started_at=now, last_heartbeat=now
        )
        session.add(instance)
        await session.flush()
        return instance

    async def update_heartbeat(self, session: AsyncSession, instance_id: str, status: str | None = None) -> bool:
        """Refresh last_heartbeat (and optionally status). False if the instance was declared stopped:
        a process that was presumed dead must not come back silently."""
        values: dict[str, Any] = {"last_heartbeat": await db_now(session)}
        if status is not None:
            values["status"] = status
        result = await session.execute(
            update(SchedulerInstance)
            .where(SchedulerInstance.id == instance_id, SchedulerInstance.status != InstanceStatus.STOPPED)
            .values(**values)
            .returning(SchedulerInstance.id)
        )
        return result.scalar_one_or_none() is not None

    async def set_instance_status(self, session: AsyncSession, instance_id: str, status: str) -> None:
        values: dict[str, Any] = {"status": status}
        if status == InstanceStatus.STOPPED:
            values["stopped_at"] = await db_now(session)
        await session.execute(update(SchedulerInstance).where(SchedulerInstance.id == instance_id).values(**values))

    async def get_active_instances(self, session: AsyncSession) -> list[SchedulerInstance]:
        query = (
            select(SchedulerInstance)
            .where(SchedulerInstance.status != InstanceStatus.STOPPED)
            .order_by(SchedulerInstance.started_at)
        )
        return list((await session.execute(query)).scalars().all())

    async def get_instance(self, session: AsyncSession, instance_id: str) -> SchedulerInstance | None:
        return await session.get(SchedulerInstance, instance_id, populate_existing=True)

    async def mark_silent_instances_stopped(self, session: AsyncSession, silent_since: datetime) -> list[str]:
        """Declare stopped every live instance whose last heartbeat is older than silent_since."""
        now = await db_now(session)
        result = await session.execute(
            update(SchedulerInstance)
            .where(
                SchedulerInstance.status != InstanceStatus.STOPPED,
                SchedulerInstance.last_heartbeat < silent_since,
            )
            .values(status=InstanceStatus.STOPPED, stopped_at=now)
            .returning(SchedulerInstance.id)
        )
        return [row[0] for row in result.all()]

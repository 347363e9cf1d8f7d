"""Instances, in SQLAlchemy (both backends)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.clock import Clock
from scheduler_core.store.instances import InstanceStore
from scheduler_core.store.models import InstanceStatus, SchedulerInstance


class PortableInstanceStore(InstanceStore):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def register(self, session: AsyncSession, values: Mapping[str, Any]) -> SchedulerInstance:
        now = await self._clock.now(session)
        instance = SchedulerInstance(
            **{"status": InstanceStatus.STARTING, **values}, started_at=now, last_heartbeat=now
        )
        session.add(instance)
        await session.flush()
        return instance

    async def heartbeat(self, session: AsyncSession, instance_id: str, status: str | None = None) -> bool:
        values: dict[str, Any] = {"last_heartbeat": await self._clock.now(session)}
        if status is not None:
            values["status"] = status
        result = await session.execute(
            update(SchedulerInstance)
            .where(SchedulerInstance.id == instance_id, SchedulerInstance.status != InstanceStatus.STOPPED)
            .values(**values)
            .returning(SchedulerInstance.id)
        )
        return result.scalar_one_or_none() is not None

    async def set_status(self, session: AsyncSession, instance_id: str, status: str) -> None:
        values: dict[str, Any] = {"status": status}
        if status == InstanceStatus.STOPPED:
            values["stopped_at"] = await self._clock.now(session)
        await session.execute(update(SchedulerInstance).where(SchedulerInstance.id == instance_id).values(**values))

    async def active(self, session: AsyncSession) -> list[SchedulerInstance]:
        query = (
            select(SchedulerInstance)
            .where(SchedulerInstance.status != InstanceStatus.STOPPED)
            .order_by(SchedulerInstance.started_at)
        )
        return list((await session.execute(query)).scalars().all())

    async def live_by_role(self, session: AsyncSession, heartbeat_since: datetime) -> dict[str, int]:
        query = (
            select(SchedulerInstance.role, func.count())
            .where(
                SchedulerInstance.status != InstanceStatus.STOPPED, SchedulerInstance.last_heartbeat >= heartbeat_since
            )
            .group_by(SchedulerInstance.role)
        )
        return {role: int(count) for role, count in (await session.execute(query)).all()}

    async def get(self, session: AsyncSession, instance_id: str) -> SchedulerInstance | None:
        return await session.get(SchedulerInstance, instance_id, populate_existing=True)

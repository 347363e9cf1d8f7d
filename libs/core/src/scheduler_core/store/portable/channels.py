"""Notification channels, in SQLAlchemy (both backends)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.channels import ChannelStore
from scheduler_core.store.clock import Clock
from scheduler_core.store.models import NotificationChannel, NotificationDelivery


class PortableChannelStore(ChannelStore):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def create(self, session: AsyncSession, values: Mapping[str, Any]) -> NotificationChannel:
        channel = NotificationChannel(**values, created_at=await self._clock.now(session))
        session.add(channel)
        await session.flush()
        return await self._reload(session, channel.id)

    async def get(self, session: AsyncSession, channel_id: int) -> NotificationChannel | None:
        query = select(NotificationChannel).where(NotificationChannel.id == channel_id)
        return (await session.execute(query)).scalar_one_or_none()

    async def list(
        self, session: AsyncSession, page: int, per_page: int
    ) -> tuple[builtins.list[NotificationChannel], int]:
        total = (await session.execute(select(func.count()).select_from(NotificationChannel))).scalar_one()
        query = (
            select(NotificationChannel).order_by(NotificationChannel.id).offset((page - 1) * per_page).limit(per_page)
        )
        return builtins.list((await session.execute(query)).scalars().all()), total

    async def update(
        self, session: AsyncSession, channel_id: int, values: Mapping[str, Any]
    ) -> NotificationChannel | None:
        result = await session.execute(
            update(NotificationChannel)
            .where(NotificationChannel.id == channel_id)
            .values(**values, updated_at=await self._clock.now(session))
            .returning(NotificationChannel.id)
        )
        if result.scalar_one_or_none() is None:
            return None
        return await self._reload(session, channel_id)

    async def delete(self, session: AsyncSession, channel_id: int) -> bool:
        await session.execute(delete(NotificationDelivery).where(NotificationDelivery.channel_id == channel_id))
        result = await session.execute(
            delete(NotificationChannel).where(NotificationChannel.id == channel_id).returning(NotificationChannel.id)
        )
        return result.scalar_one_or_none() is not None

    @staticmethod
    async def _reload(session: AsyncSession, channel_id: int) -> NotificationChannel:
        query = (
            select(NotificationChannel)
            .where(NotificationChannel.id == channel_id)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(query)).scalar_one()

"""The database clock on PostgreSQL: clock_timestamp(), the real time at execution (now() would be the start
of the transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.clock import Clock
from scheduler_core.store.types import UTCDateTime


class PostgresClock(Clock):
    async def now(self, session: AsyncSession) -> datetime:
        value = (await session.execute(select(type_coerce(func.clock_timestamp(), UTCDateTime())))).scalar_one()
        assert isinstance(value, datetime)
        return value

"""The database clock on SQLite: the database runs inside this process, so its clock is this host's. (SQLite's
CURRENT_TIMESTAMP would only have whole seconds.)"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.clock import Clock


class SqliteClock(Clock):
    async def now(self, session: AsyncSession) -> datetime:
        return datetime.now(UTC)

"""Jobs on PostgreSQL: the portable statements, and NOTIFY to wake the timekeepers of other processes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.portable.jobs import PortableJobStore
from scheduler_core.wakeup import WAKEUP_CHANNEL


class PostgresJobStore(PortableJobStore):
    async def notify_changed(self, session: AsyncSession) -> None:
        # NOTIFY is transactional: delivered when (and only if) the caller's transaction commits.
        await session.execute(select(func.pg_notify(WAKEUP_CHANNEL, "")))

"""Jobs on SQLite: the portable statements. One process owns the file (embedded mode), so there is nobody in
another process to wake: the embedded timekeeper is woken in-process after the commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.portable.jobs import PortableJobStore


class SqliteJobStore(PortableJobStore):
    async def notify_changed(self, session: AsyncSession) -> None:
        return None

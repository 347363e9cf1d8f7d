"""Maintenance on SQLite: nothing to switch off. A deleted or rewritten row's space is reused by the next writes
in the same file (no dead versions stay behind for a vacuum to remove), and statistics matter only after ANALYZE."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.maintenance import MaintenanceStore, MaintenanceWarning


class SqliteMaintenance(MaintenanceStore):
    async def warnings(self, session: AsyncSession) -> list[MaintenanceWarning]:
        return []

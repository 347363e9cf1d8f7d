"""Partitions on SQLite: none. The embedded database keeps one table, and retention there is the batch deletes
of the history store alone; only one process writes the file, so the cleanup's lock is always granted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.partitions import Partition, PartitionStore, Step


class SqlitePartitions(PartitionStore):
    async def try_exclusive(self, session: AsyncSession) -> bool:
        return True

    async def release_exclusive(self, session: AsyncSession) -> None:
        return None

    async def make_week(self, session: AsyncSession, day: date) -> Step:
        return Step.SKIPPED

    async def partitions(self, session: AsyncSession) -> list[Partition]:
        return []

    async def count(self, session: AsyncSession, partition: Partition) -> int:
        raise ValueError(f"SQLite has no partition {partition.name}")

    async def expired(self, session: AsyncSession, partition: Partition, cutoff: datetime) -> bool:
        return False

    async def detach(self, session: AsyncSession, partition: Partition) -> Step:
        raise ValueError(f"SQLite has no partition {partition.name}")

    async def drop_detached(self, session: AsyncSession) -> list[str]:
        return []

"""Maintenance: whether the database's own upkeep of the scheduler's tables is switched on.

PostgreSQL's autovacuum removes the dead row versions every run leaves behind (a run is one insert and two or
three updates of its row, plus a lock row inserted and deleted) and keeps the planner's statistics current.
Without it the hot tables and their indexes fill with dead entries that every claim and scheduling pass steps
over: measured at 200 runs/s (issue 21), completed - slot p99 climbed from 31 to 125 ms within 4.5 minutes with
autovacuum off, and stayed at 28-35 ms with it on. The scheduler still runs; each service warns at start-up and
in /readyz (bootstrap.py), so that an operator notices."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class MaintenanceWarning:
    code: str  # what is off: autovacuum_off, track_counts_off, table_autovacuum_disabled
    message: str  # what it costs and how to turn it back on


class MaintenanceStore(ABC):
    @abstractmethod
    async def warnings(self, session: AsyncSession) -> list[MaintenanceWarning]:
        """What is switched off that the scheduler's tables need (empty: nothing). Reads settings only."""

"""Scheduler instances: one row per running service process, kept alive by its heartbeats."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import SchedulerInstance


class InstanceStore(ABC):
    @abstractmethod
    async def register(self, session: AsyncSession, values: Mapping[str, Any]) -> SchedulerInstance:
        """Insert the instance row (status `starting` unless given); started_at and last_heartbeat come from the
        database clock."""

    @abstractmethod
    async def heartbeat(self, session: AsyncSession, instance_id: str, status: str | None = None) -> bool:
        """Refresh last_heartbeat (and optionally the status). False, changing nothing, if the instance was
        declared stopped: a process presumed dead must not come back silently."""

    @abstractmethod
    async def set_status(self, session: AsyncSession, instance_id: str, status: str) -> None:
        """Set the status; `stopped` also stamps stopped_at."""

    @abstractmethod
    async def active(self, session: AsyncSession) -> list[SchedulerInstance]:
        """Instances not stopped, oldest first."""

    @abstractmethod
    async def live_by_role(self, session: AsyncSession, heartbeat_since: datetime) -> dict[str, int]:
        """How many instances of each role are live: not stopped, and heartbeating since `heartbeat_since`. Roles
        with none are absent."""

    @abstractmethod
    async def get(self, session: AsyncSession, instance_id: str) -> SchedulerInstance | None: ...

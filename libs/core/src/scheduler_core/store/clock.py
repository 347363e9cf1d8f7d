"""The database clock. Every instant the scheduler acts on comes from here, never from a host's clock, so
timekeepers and executors on machines with skewed clocks agree on what is due and what has expired."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


class Clock(ABC):
    @abstractmethod
    async def now(self, session: AsyncSession) -> datetime:
        """The database's current instant (aware, UTC): the real time when the call runs, not the start of the
        session's transaction."""

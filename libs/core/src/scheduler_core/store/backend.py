"""A backend: what differs between databases beyond the statements of the stores."""

from __future__ import annotations

from abc import ABC, abstractmethod

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import Store
from scheduler_core.wakeup import Wakeup


class Backend(ABC):
    """What differs between databases beyond the statements: the engine, the store, how timekeepers are woken
    across processes, and how a missing database is created."""

    name: str

    @abstractmethod
    def create_engine(self, url: str, *, pool_size: int, pre_ping: bool) -> AsyncEngine: ...

    @abstractmethod
    def store(self) -> Store: ...

    @abstractmethod
    def wakeup(self, url: str) -> Wakeup:
        """What wakes a timekeeper when another process changes a job (PostgreSQL: LISTEN; SQLite, one process:
        in-process only)."""

    @abstractmethod
    async def ensure_database(self, url: str) -> None:
        """Create the database the URL names if it does not exist (a development convenience)."""

"""Wake-ups: how a timekeeper learns, without polling, that a job was created, changed or triggered.

The timekeeper otherwise sleeps exactly until the earliest next_run_at; a wake-up makes it look again at
once. `LocalWakeup` serves one process (embedded mode); `scheduler_core.store.postgres.listener.PostgresWakeup` carries
PostgreSQL NOTIFY between processes (the API's transactions send it through the repository)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

# The one NOTIFY channel of the scheduler.
WAKEUP_CHANNEL = "scheduler_wakeup"


class Wakeup(ABC):
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    @abstractmethod
    def notify(self) -> None:
        """Ask waiting timekeepers to look for due work now."""

    @abstractmethod
    async def wait(self, max_seconds: float) -> bool:
        """Sleep up to max_seconds; True if woken by a notification (which is consumed)."""


class LocalWakeup(Wakeup):
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, max_seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), timeout=max(max_seconds, 0))
        except TimeoutError:
            return False
        self._event.clear()
        return True

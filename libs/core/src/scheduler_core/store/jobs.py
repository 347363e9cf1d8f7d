"""Jobs as the API edits them: create, read, list, update, soft delete, and the row lock that serialises
changes to one job."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ScheduledJob


class JobNotFound(LookupError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} does not exist")
        self.job_id = job_id


@dataclass(frozen=True, slots=True)
class JobFilters:
    is_enabled: bool | None = None
    job_type_id: int | None = None
    task_function_id: int | None = None
    include_deleted: bool = False
    # Case-insensitive part of the English or Arabic name (the dashboard's and CLI's search by name).
    name_contains: str | None = None


class JobStore(ABC):
    """Every job returned is loaded with its task function and job type (the API's responses name both).

    Methods never commit: the caller's transaction decides what is atomic, so a validation, an update and the
    wake-up of the timekeepers form one step."""

    @abstractmethod
    async def create(self, session: AsyncSession, values: Mapping[str, Any]) -> ScheduledJob:
        """Insert a job from column values; created_at comes from the database clock."""

    @abstractmethod
    async def get(self, session: AsyncSession, job_id: int, *, include_deleted: bool = False) -> ScheduledJob | None:
        """The job, or None if it does not exist (or is soft-deleted, unless include_deleted)."""

    @abstractmethod
    async def list(
        self, session: AsyncSession, filters: JobFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJob], int]:
        """A page of jobs ordered by id (1-based `page`), and how many match the filters in all."""

    @abstractmethod
    async def lock(self, session: AsyncSession, job_id: int) -> ScheduledJob | None:
        """The active job, row-locked until the transaction ends, so concurrent changes to one job serialise
        (SQLite: the transaction already holds the database's one write lock)."""

    @abstractmethod
    async def update(self, session: AsyncSession, job_id: int, values: Mapping[str, Any]) -> ScheduledJob:
        """Set column values of an active job and stamp updated_at (an edit, not the scheduler's bookkeeping);
        raises JobNotFound if there is no active job with that id. Empty `values` only reloads the job."""

    @abstractmethod
    async def soft_delete(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        """is_active = false and no next run; the history stays."""

    @abstractmethod
    async def count(self, session: AsyncSession) -> tuple[int, int]:
        """(active jobs, of which enabled)."""

    @abstractmethod
    async def earliest_next_run(self, session: AsyncSession) -> datetime | None:
        """The soonest next_run_at of the schedulable jobs (active, enabled, not paused); None if none has one.
        Once it is in the past, the timekeepers are that far behind."""

    @abstractmethod
    async def primary_for_task(self, session: AsyncSession, task_function_id: int) -> ScheduledJob | None:
        """The active primary job running this task function, if any."""

    @abstractmethod
    async def set_last_run_at(self, session: AsyncSession, job_id: int, at: datetime) -> None:
        """Record when the job last fired (not an edit: updated_at is left alone)."""

    @abstractmethod
    async def notify_changed(self, session: AsyncSession) -> None:
        """Wake the timekeepers of other processes when this transaction commits, and only if it does
        (PostgreSQL NOTIFY). A backend without cross-process notification does nothing: embedded mode wakes its
        in-process timekeeper after the commit instead."""

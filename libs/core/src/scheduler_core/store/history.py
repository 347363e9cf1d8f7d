"""History: runs as the API lists them, the runs in progress, and retention."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ScheduledJobExecution

# Rows a history page counts exactly before it may estimate its total instead (HistoryPage.total).
EXACT_COUNT_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class ExecutionFilters:
    """Which runs a history page lists; every filter given must hold. Each is served by an index that holds the
    slot order (migration 0008), so a page costs the same at any depth."""

    job_id: int | None = None
    status_id: int | None = None
    trigger: str | None = None  # Trigger.SCHEDULE, MANUAL or BACKFILL
    scheduled_from: datetime | None = None  # slots at or after this instant
    scheduled_to: datetime | None = None  # slots before this instant


@dataclass(frozen=True, slots=True, order=True)
class SlotPosition:
    """A run's place in history's order: by slot, then by id (runs of one slot are listed newest row first)."""

    scheduled_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    executions: list[ScheduledJobExecution]
    total: int  # runs matching the filters, on every page
    total_is_estimate: bool  # past EXACT_COUNT_LIMIT a backend may estimate `total` rather than count every row
    next_after: SlotPosition | None  # where the next page starts (after this row); None: this is the last page


class Cancellation(enum.Enum):
    CANCELLED = "cancelled"  # it had not started (pending or waiting): recorded cancelled now
    REQUESTED = "requested"  # it is running: its executor stops it when it next renews its lease
    ALREADY_REQUESTED = "already_requested"  # running, and asked to cancel before
    FINISHED = "finished"  # it had ended already: nothing to cancel


@dataclass(frozen=True, slots=True)
class Backlog:
    """Runs due and not claimed yet: pending, their slot (or, for a run released from waiting, its release) come."""

    runs: int
    oldest_due_at: datetime | None  # the earliest of their due instants; None when there is none


class HistoryStore(ABC):
    """Every execution returned is loaded with its status (the API's responses name it)."""

    @abstractmethod
    async def page(
        self,
        session: AsyncSession,
        filters: ExecutionFilters,
        *,
        per_page: int,
        after: SlotPosition | None = None,
        offset: int = 0,
    ) -> HistoryPage:
        """A page of up to `per_page` runs matching the filters, newest slot first ((scheduled_at, id) descending).

        `after`: keyset paging, the runs strictly after that position in this order (a page's `next_after`): each
        page costs one index range scan however deep it is, and rows written meanwhile never make a run appear
        twice or be skipped (a run's position never changes; new runs land where their slot puts them). `offset`
        (without `after`): the reference's page-number paging, which reads and skips `offset` rows.

        `total` is exact up to EXACT_COUNT_LIMIT matching rows; past it a backend may answer the planner's estimate
        instead (total_is_estimate), so that no page costs a count of the whole history."""

    @abstractmethod
    async def get(self, session: AsyncSession, execution_id: str) -> ScheduledJobExecution | None:
        """One run by its execution id, read afresh."""

    @abstractmethod
    async def count_running(self, session: AsyncSession) -> int: ...

    @abstractmethod
    async def backlog(self, session: AsyncSession, now: datetime) -> Backlog:
        """The runs waiting for an executor at `now` (see Backlog), for the queue's depth and age metrics."""

    @abstractmethod
    async def count_open(self, session: AsyncSession, job_id: int) -> int:
        """Runs of the job still pending or running (written, not yet ended), whatever their trigger. Read in
        the caller's transaction: under the job's row lock (JobStore.lock), no other API request adds one
        meanwhile."""

    @abstractmethod
    async def running(self, session: AsyncSession, limit: int) -> list[ScheduledJobExecution]:
        """Up to `limit` running runs, longest running first."""

    @abstractmethod
    async def cancel(self, session: AsyncSession, execution_id: str, *, by: str, now: datetime) -> Cancellation:
        """Cancel a run on request: one not started yet (pending, waiting) is recorded cancelled at `now`, with
        cancelled_by `by`; a running one is marked asked to cancel (its executor learns it with its next lease
        renewal, stops its task and records it cancelled; the sweep records it cancelled if the executor is
        gone). Atomic with a concurrent claim: whichever commits first decides which of the two happens."""

    @abstractmethod
    async def cancel_waiting(self, session: AsyncSession, job_id: int, *, reason: str, now: datetime) -> int:
        """Record cancelled, with `reason`, every run of the job not started yet (pending or waiting): the job was
        deleted. Returns how many."""

    @abstractmethod
    async def delete_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        """Delete up to batch_size finished runs created before cutoff; returns how many. Pending, running and
        waiting runs are never deleted. The caller commits between batches, so no transaction holds locks for long."""

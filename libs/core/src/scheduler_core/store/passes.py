"""The timekeeper's scheduling pass: claim the due jobs, write one run per due slot, advance the jobs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.outbox import NewExecution, OutboxRun, PublishedRun


@dataclass(frozen=True, slots=True)
class DueJob:
    """What the timekeeper needs of a due job to plan its runs (a plain snapshot, not an ORM object)."""

    id: int
    job_type_id: int
    interval_seconds: int | None
    interval_minutes: int | None
    interval_hours: int | None
    interval_days: int | None
    cron_expression: str | None
    timezone: str
    next_run_at: datetime | None  # never None from claim_due
    misfire_grace_time: int
    coalesce: bool
    priority: int


@dataclass(frozen=True, slots=True)
class DueClaim:
    """The database's `now` and the jobs claimed at that instant whose slot is due by `horizon` (now plus the
    look-ahead: next_run_at <= horizon), earliest first."""

    now: datetime
    jobs: list[DueJob]
    horizon: datetime


@dataclass(frozen=True, slots=True)
class JobAdvance:
    """A job's new next_run_at, and the slot of the latest run fired for it, if any (becomes last_run_at)."""

    job_id: int
    next_run_at: datetime | None
    last_run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PassRecord:
    """What a scheduling pass's write returned."""

    written: list[str]  # execution ids inserted (a slot that already had a row is not among them)
    earliest: datetime | None  # the soonest next_run_at of any schedulable job, after this pass's advances
    released: list[OutboxRun] = field(default_factory=list)  # waiting runs released: to publish
    earliest_release: datetime | None = None  # the soonest release_at of a run still waiting (None: none known)


class PassStore(ABC):
    @abstractmethod
    async def claim_due(self, session: AsyncSession, limit: int, lookahead: float) -> DueClaim:
        """The database's current instant `now`, and up to `limit` schedulable jobs (enabled, active, not paused)
        whose next_run_at <= now + lookahead seconds, earliest first, each locked for the rest of the transaction
        without waiting: a job another timekeeper holds is skipped, so concurrent timekeepers take disjoint
        batches. The lock does not conflict with executors claiming runs of these jobs. One round trip."""

    @abstractmethod
    async def record(
        self,
        session: AsyncSession,
        rows: Sequence[NewExecution],
        advances: Sequence[JobAdvance],
        published: Sequence[PublishedRun] = (),
        *,
        release_until: datetime | None = None,
        release_limit: int = 0,
    ) -> PassRecord:
        """A pass's writes, in the transaction of its claim_due: insert `rows` (a slot that already has a row is
        skipped, as OutboxStore.add), apply `advances` (as advance), record the broker's confirmations
        `published` (as OutboxStore.record_published), release up to `release_limit` waiting runs whose
        release_at is no later than `release_until` (they become pending, to be published; a run another
        transaction holds is skipped, not waited for), then read the soonest next_run_at of every schedulable
        job and the soonest release_at of the runs still waiting after `release_until`. Atomic with the claim:
        either every row and advance is written or none is."""

    @abstractmethod
    async def advance(self, session: AsyncSession, advances: Sequence[JobAdvance]) -> None:
        """Set next_run_at (and last_run_at where a run was fired) of many jobs."""

    @abstractmethod
    async def claim_unscheduled(self, session: AsyncSession, limit: int) -> list[DueJob]:
        """Schedulable jobs with no next_run_at yet (seeded by a migration, or written around the API), locked
        without waiting like claim_due; the caller gives them their first slot with advance."""

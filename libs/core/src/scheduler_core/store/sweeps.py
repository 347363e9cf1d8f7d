"""The recovery sweep's statements: find silent instances and declare stopped the ones the sweep judged dead,
fail the runs their executors lost or whose leases expired, record missed the scheduled runs nobody claimed
within their grace time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus


@dataclass(frozen=True, slots=True)
class UnclaimedRun:
    """A scheduled run nobody claimed within its job's misfire grace time, now recorded missed."""

    execution_id: str
    job_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class SilentInstance:
    """A live instance whose heartbeat is overdue."""

    id: str
    role: str
    last_heartbeat: datetime


@dataclass(frozen=True, slots=True)
class OrphanedRun:
    execution_id: str
    job_id: int
    executor_id: str
    reason: str
    status: ExecutionStatus = ExecutionStatus.FAILED  # CANCELLED for a run that had been asked to cancel


class SweepStore(ABC):
    @abstractmethod
    async def silent_instances(self, session: AsyncSession, *, silent_since: datetime) -> list[SilentInstance]:
        """Instances not stopped whose last heartbeat is older than silent_since, oldest heartbeat first."""

    @abstractmethod
    async def stop_instances(
        self, session: AsyncSession, instance_ids: Sequence[str], *, silent_since: datetime, now: datetime
    ) -> list[str]:
        """Declare stopped (stopped_at = now) those of instance_ids that are still silent since silent_since: an
        instance whose heartbeat arrived after the caller read it keeps running. Returns the ids stopped; their
        running runs are then failed by fail_orphaned. Each executor (or embedded process) stopped is announced:
        executor.lost."""

    @abstractmethod
    async def report_silent(self, session: AsyncSession, now: datetime, limit: int) -> list[int]:
        """Report the jobs that can run and had no success by their success_expected_by (up to `limit`, the most
        overdue first): each gets a job.silent event and stops being watched until its next success (so a silence
        is reported once, and the finish, which reports a silence it finds late, sees it reported). A job another
        transaction holds is left to the next sweep. Returns their ids."""

    @abstractmethod
    async def fail_orphaned(self, session: AsyncSession, now: datetime) -> list[OrphanedRun]:
        """Fail the `running` runs whose executor is gone: its instance is stopped, or the run's lock expired
        (not renewed) or vanished. Each gets its reason (scheduler_core.verdicts); a run that was asked to cancel
        ends cancelled instead. Then release every lock of a run that is no longer running, or that expired:
        such locks would hold max_instances places for nothing. What follows a run's end follows (as in
        OutcomeStore.finish: a failed run's retry or its job's failure count, a queued run released). A run whose
        executor records its outcome concurrently keeps exactly one outcome: whichever commits first; the other
        finds the run no longer running."""

    @abstractmethod
    async def close_unclaimed(self, session: AsyncSession, now: datetime, limit: int) -> list[UnclaimedRun]:
        """Record missed the scheduled runs (first attempts) still pending, or queued, past their job's misfire
        grace time (the claim's rule, scheduler_core.verdicts), up to `limit`, oldest slots first, each announced
        (run.missed); returns them with their reasons.

        Whoever claimed such a run now would record it missed, so this changes no verdict; it only comes without
        a claim. That matters when none will come: the broker confirmed the run's message and then lost it.
        Manual runs have no grace time and are left alone; a run claimed concurrently is not touched."""

    @abstractmethod
    async def release_stalled(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """Release the head of each queue that nothing would move on: a job (up to `limit`) with queued runs
        waiting for a place, a place free, and no released run on its way to take it (the run ahead of them
        ended without freeing a place: closed missed, say). Returns how many were released."""

"""Runs as the outbox: the execution rows a timekeeper (or a manual trigger) writes are the messages to
publish; the relay publishes the ones the broker has not confirmed and records the confirmations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.claims import RunSlot
from scheduler_core.store.models import ExecutionStatus, Trigger


@dataclass(frozen=True, slots=True)
class NewExecution:
    """One row for the timekeeper (or a manual trigger) to write."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    status_id: int = ExecutionStatus.PENDING
    trigger: str = Trigger.SCHEDULE
    coalesced_count: int = 1
    coalesced_from: datetime | None = None
    error_message: str | None = None  # the reason, for rows written terminal (missed)
    completed_at: datetime | None = None
    rerun_of: str | None = None  # a manual run that runs a finished run again


@dataclass(frozen=True, slots=True)
class PublishedRun:
    """A run whose message the broker confirmed at `published_at` (the database clock's instant), named by its
    execution id and its slot (as its message carries them): a slot not the run's own marks nothing."""

    execution_id: str
    scheduled_at: datetime
    published_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRun:
    """A pending run the broker has not confirmed, with what its message carries."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    priority: int


class OutboxStore(ABC):
    @abstractmethod
    async def add(self, session: AsyncSession, rows: Sequence[NewExecution]) -> list[str]:
        """Insert runs (first attempts); idempotent per slot: a row whose (job_id, scheduled_at, attempt) already
        exists is skipped, not an error (another timekeeper wrote it, or a backfill asked for it again). Returns the
        execution ids actually written, in input order."""

    @abstractmethod
    async def unpublished(self, session: AsyncSession, *, created_before: datetime, limit: int) -> list[OutboxRun]:
        """Pending runs without a confirmed publish, written (and, for a run that waited, released) before
        `created_before`, then manual and backfilled runs written since (nothing else publishes those), up to
        `limit`, oldest first. Each is locked for the transaction
        without waiting, so two relays never take the same rows; the cost is bounded by `limit`, not by the size
        of the outbox."""

    @abstractmethod
    async def mark_published(self, session: AsyncSession, runs: Sequence[RunSlot], at: datetime) -> None:
        """Record that the broker confirmed these runs' messages at `at` (each run named with its slot)."""

    @abstractmethod
    async def record_published(self, session: AsyncSession, runs: Sequence[PublishedRun]) -> list[str]:
        """Set published_at of the runs still pending, each to its own instant; returns the ids marked. A run
        already claimed is not touched (it needs no mark), and a row another transaction holds locked right now
        (an executor claiming it) is skipped rather than waited for."""

    @abstractmethod
    async def forget_all(self, session: AsyncSession) -> int:
        """Mark every pending run unpublished, so that the relay publishes it again; returns how many. For a
        broker that keeps nothing across restarts (embedded mode's in-process queue): once at start-up."""

    @abstractmethod
    async def forget_stale_ungraced(
        self, session: AsyncSession, *, published_before: datetime, limit: int
    ) -> list[str]:
        """Mark unpublished the runs without a grace time (manual and backfilled runs, retries) still pending
        whose message the broker confirmed before `published_before`, up to `limit`, oldest confirmation first;
        returns their ids. A run claimed while this runs is left alone.

        Such a run, unlike a scheduled slot's first attempt (closed as missed by the sweep), has nothing else to
        end it if the broker lost its confirmed message: it would stay pending for ever. If the message was only
        slow, the extra copy is a duplicate delivery, which the claim ignores."""

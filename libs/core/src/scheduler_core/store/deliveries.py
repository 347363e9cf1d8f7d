"""The notifications' outbox: events written, one delivery per subscribed channel, in the transaction of what
they announce; the relay's claim of due deliveries, and the outcome of each attempt."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.notifications import Event
from scheduler_core.store.models import NotificationDelivery


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery a relay claimed, with what it needs to send it."""

    id: int
    event_id: str
    event_type: str
    attempt: int  # this attempt's number, from 1: the fencing token of its outcome
    created_at: datetime  # when the event was written (the backoff gives up a window after it)
    payload: dict[str, Any]  # the event's envelope
    url: str
    secret: str | None
    format: str


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How an attempt ended: delivered (a 2xx), or not, with the next attempt's instant (None: give up)."""

    id: int
    attempt: int
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


class DeliveryStore(ABC):
    @abstractmethod
    async def enqueue(self, session: AsyncSession, events: Sequence[Event]) -> int:
        """Write each event to the outbox, in the caller's transaction: one pending delivery, due now, per
        enabled channel that takes the event's type and (if the channel lists jobs) its job; every channel gets
        the same event id. Returns how many deliveries were written (0 when no channel takes the events: nothing
        else is written)."""

    @abstractmethod
    async def claim_due(self, session: AsyncSession, limit: int, lease: float) -> list[DueDelivery]:
        """Up to `limit` pending deliveries due now (next_attempt_at <= the database's now) of enabled channels,
        oldest due first, each taken for one attempt: its attempts grow by one and its next attempt moves to now
        + lease seconds, so that no other relay takes it meanwhile, and a relay that dies during the attempt
        leaves it to be tried again once the lease is over (at least once). Rows another transaction holds are
        skipped, not waited for (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite has one writer). The lease must
        outlast an attempt (its HTTP timeout)."""

    @abstractmethod
    async def record(self, session: AsyncSession, outcomes: Sequence[AttemptOutcome]) -> int:
        """Record each attempt's outcome, fenced on (still pending, attempts == its attempt): an attempt whose
        lease ran out and whose delivery another relay took since changes nothing. Delivered: delivered_at is the
        database's now. Not delivered: pending again at next_attempt_at, or failed if that is None. Returns how
        many were recorded."""

    @abstractmethod
    async def page(
        self, session: AsyncSession, channel_id: int, status: str | None, page: int, per_page: int
    ) -> tuple[list[NotificationDelivery], int]:
        """A page of the channel's deliveries, newest first (1-based `page`; status None: any), and how many
        match."""

    @abstractmethod
    async def delete_finished_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        """Delete up to batch_size delivered or failed deliveries written before cutoff (oldest first); returns
        how many. Pending ones are never deleted. The caller commits between batches."""

"""Writing events to the notifications' outbox, in the transaction of what they announce (the claim's verdicts,
the finish, the pass, the sweep, a pause), in SQLAlchemy for both backends.

Events are rare next to runs, and most installations have few channels: the channels are read (a handful of rows)
only when there is an event to write, and the runs an event is about are read only when a channel takes it. A
transaction without events costs nothing here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.notifications import Event, EventType, envelope, instant
from scheduler_core.store.claims import RunSlot
from scheduler_core.store.clock import Clock
from scheduler_core.store.models import (
    DeliveryStatus,
    ExecutionStatus,
    NotificationChannel,
    NotificationDelivery,
    ScheduledJob,
    ScheduledJobExecution,
)

# Characters of a run's error message an event carries (its traceback stays in the history).
ERROR_MAX: Final = 2_000


@dataclass(frozen=True, slots=True)
class _Channel:
    id: int
    events: frozenset[str]
    job_ids: frozenset[int] | None  # None: every job's events

    def takes(self, event: Event) -> bool:
        if str(event.type) not in self.events:
            return False
        return self.job_ids is None or (event.job_id is not None and event.job_id in self.job_ids)


def run_data(
    execution_id: str,
    first_execution_id: str | None,
    scheduled_at: datetime,
    attempt: int,
    trigger: str,
    status_id: int,
    error: str | None,
) -> dict[str, Any]:
    """What a run event says of its run."""
    return {
        "executionId": execution_id,
        "firstExecutionId": first_execution_id or execution_id,
        "scheduledAt": instant(scheduled_at),
        "attempt": attempt,
        "trigger": trigger,
        "status": ExecutionStatus(status_id).name.lower(),
        "error": None if error is None else error[:ERROR_MAX],
    }


class EventOutbox:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def add(self, session: AsyncSession, events: Sequence[Event]) -> int:
        """DeliveryStore.enqueue: one pending delivery per event and channel that takes it; returns how many."""
        if not events:
            return 0
        return await self._write(session, events, await self._channels(session))

    async def add_runs(self, session: AsyncSession, event_type: EventType, runs: Iterable[RunSlot]) -> int:
        """An event of `event_type` for each of these runs, as the transaction has just recorded them (their
        status, error and completed_at, the event's instant). The runs are read by id and slot: on PostgreSQL
        only the partitions of their slots."""
        wanted = set(runs)
        if not wanted:
            return 0
        ids = list(dict.fromkeys(run.execution_id for run in wanted))
        slots = list(dict.fromkeys(run.scheduled_at for run in wanted))
        channels = [c for c in await self._channels(session) if str(event_type) in c.events]
        if not channels:
            return 0
        execution = ScheduledJobExecution
        rows = (
            await session.execute(
                select(
                    execution.execution_id,
                    execution.first_execution_id,
                    execution.job_id,
                    execution.scheduled_at,
                    execution.attempt,
                    execution.trigger,
                    execution.status_id,
                    execution.error_message,
                    execution.completed_at,
                ).where(execution.execution_id.in_(ids), execution.scheduled_at.in_(slots))
            )
        ).all()
        now = await self._clock.now(session)
        events = [
            Event(
                event_type,
                completed_at or now,
                job_id,
                run_data(eid, first, slot, attempt, trigger, status_id, error),
            )
            for eid, first, job_id, slot, attempt, trigger, status_id, error, completed_at in rows
            if RunSlot(eid, slot) in wanted  # an id with another run's slot is not this run
        ]
        return await self._write(session, events, channels)

    @staticmethod
    async def _channels(session: AsyncSession) -> list[_Channel]:
        channel = NotificationChannel
        rows = (
            await session.execute(
                select(channel.id, channel.events, channel.job_ids)
                .where(channel.enabled.is_(True))
                .order_by(channel.id)
            )
        ).all()
        return [
            _Channel(channel_id, frozenset(events or ()), None if job_ids is None else frozenset(job_ids))
            for channel_id, events, job_ids in rows
        ]

    async def _write(self, session: AsyncSession, events: Sequence[Event], channels: Sequence[_Channel]) -> int:
        targets = [(event, [c for c in channels if c.takes(event)]) for event in events]
        targets = [(event, taking) for event, taking in targets if taking]
        if not targets:
            return 0
        jobs = await self._jobs(session, {event.job_id for event, _ in targets if event.job_id is not None})
        now = await self._clock.now(session)
        rows: list[dict[str, Any]] = []
        for event, taking in targets:
            event_id = str(uuid.uuid4())
            payload = envelope(event_id, event, jobs.get(event.job_id) if event.job_id is not None else None)
            rows += [
                {
                    "event_id": event_id,
                    "channel_id": channel.id,
                    "event_type": str(event.type),
                    "job_id": event.job_id,
                    "payload": payload,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for channel in taking
            ]
        await session.execute(insert(NotificationDelivery), rows)
        return len(rows)

    @staticmethod
    async def _jobs(session: AsyncSession, job_ids: set[int]) -> dict[int, dict[str, Any]]:
        if not job_ids:
            return {}
        job = ScheduledJob
        rows = (await session.execute(select(job.id, job.name_en, job.name_ar).where(job.id.in_(job_ids)))).all()
        return {job_id: {"id": job_id, "nameEn": name_en, "nameAr": name_ar} for job_id, name_en, name_ar in rows}

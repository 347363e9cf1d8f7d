"""The notifications' outbox, in SQLAlchemy (both backends): the relay's claim takes due rows with FOR UPDATE SKIP
LOCKED on PostgreSQL, which SQLite (one writer at a time) does without."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, String, delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.notifications import Event
from scheduler_core.store.clock import Clock
from scheduler_core.store.deliveries import AttemptOutcome, DeliveryStore, DueDelivery
from scheduler_core.store.models import DeliveryStatus, NotificationChannel, NotificationDelivery
from scheduler_core.store.portable.events import EventOutbox

# A literal, as the predicate of ix_notification_deliveries_due needs (a bound parameter would not match it).
PENDING_DELIVERY: Final[ColumnElement[str]] = literal_column(f"'{DeliveryStatus.PENDING.value}'", String())


class PortableDeliveryStore(DeliveryStore):
    def __init__(self, clock: Clock, events: EventOutbox) -> None:
        self._clock = clock
        self._events = events

    async def enqueue(self, session: AsyncSession, events: Sequence[Event]) -> int:
        return await self._events.add(session, events)

    async def claim_due(self, session: AsyncSession, limit: int, lease: float) -> list[DueDelivery]:
        now = await self._clock.now(session)
        delivery, channel = NotificationDelivery, NotificationChannel
        rows = (
            await session.execute(
                select(
                    delivery.id,
                    delivery.event_id,
                    delivery.event_type,
                    delivery.attempts,
                    delivery.created_at,
                    delivery.payload,
                    channel.url,
                    channel.secret,
                    channel.format,
                )
                .join(channel, channel.id == delivery.channel_id)
                .where(delivery.status == PENDING_DELIVERY, delivery.next_attempt_at <= now, channel.enabled.is_(True))
                .order_by(delivery.next_attempt_at)
                .limit(limit)
                .with_for_update(of=delivery, skip_locked=True)
            )
        ).all()
        if not rows:
            return []
        await session.execute(
            update(delivery)
            .where(delivery.id.in_([row.id for row in rows]))
            .values(attempts=delivery.attempts + 1, next_attempt_at=now + timedelta(seconds=lease))
        )
        return [
            DueDelivery(
                id=row.id,
                event_id=row.event_id,
                event_type=row.event_type,
                attempt=row.attempts + 1,
                created_at=row.created_at,
                payload=row.payload,
                url=row.url,
                secret=row.secret,
                format=row.format,
            )
            for row in rows
        ]

    async def record(self, session: AsyncSession, outcomes: Sequence[AttemptOutcome]) -> int:
        if not outcomes:
            return 0
        now = await self._clock.now(session)
        delivery = NotificationDelivery
        recorded = 0
        for outcome in outcomes:
            if outcome.delivered:
                values: dict[str, object] = {
                    "status": DeliveryStatus.DELIVERED,
                    "delivered_at": now,
                    "last_error": None,
                }
            elif outcome.next_attempt_at is None:
                values = {"status": DeliveryStatus.FAILED, "last_error": outcome.error}
            else:
                values = {"next_attempt_at": outcome.next_attempt_at, "last_error": outcome.error}
            result = await session.execute(
                update(delivery)
                .where(
                    delivery.id == outcome.id,
                    delivery.status == DeliveryStatus.PENDING,
                    delivery.attempts == outcome.attempt,
                )
                .values(**values, last_status_code=outcome.status_code)
                .returning(delivery.id)
            )
            recorded += len(result.all())
        return recorded

    async def page(
        self, session: AsyncSession, channel_id: int, status: str | None, page: int, per_page: int
    ) -> tuple[list[NotificationDelivery], int]:
        delivery = NotificationDelivery
        conditions: list[ColumnElement[bool]] = [delivery.channel_id == channel_id]
        if status is not None:
            conditions.append(delivery.status == status)
        total = (await session.execute(select(func.count()).select_from(delivery).where(*conditions))).scalar_one()
        query = select(delivery).where(*conditions).order_by(delivery.id.desc()).offset((page - 1) * per_page)
        return list((await session.execute(query.limit(per_page))).scalars().all()), total

    async def delete_finished_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        delivery = NotificationDelivery
        # Oldest first by id (ids grow with created_at), skipping rows a relay holds (SQLite has one writer).
        batch = (
            select(delivery.id)
            .where(delivery.created_at < cutoff, delivery.status != PENDING_DELIVERY)
            .order_by(delivery.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        result = await session.execute(
            delete(delivery).where(delivery.id.in_(batch.scalar_subquery())).returning(delivery.id)
        )
        return len(result.all())

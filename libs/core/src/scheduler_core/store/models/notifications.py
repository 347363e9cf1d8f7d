"""Notification channels and the deliveries outbox (store/channels.py, store/deliveries.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from scheduler_core.store.models.base import Base, BigId, JsonDoc, partial_where
from scheduler_core.store.types import UTCDateTime


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # to be sent at next_attempt_at (again, after a failed attempt)
    DELIVERED = "delivered"  # the channel answered 2xx
    FAILED = "failed"  # given up: no 2xx within the delivery window (a day by default)


class NotificationChannel(Base):
    """Where events are sent: a URL, the event types it takes, optionally only those of some jobs."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list[str]] = mapped_column(JsonDoc, nullable=False)  # event types (notifications.events)
    job_ids: Mapped[list[int] | None] = mapped_column(JsonDoc)  # only these jobs' events; NULL: every job's
    secret: Mapped[str | None] = mapped_column(String(255))  # HMAC key of deliveries, never returned; NULL: unsigned
    format: Mapped[str] = mapped_column(String(10), default="json", server_default="json", nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationDelivery(Base):
    """One event for one channel: the outbox row, written in the transaction of the event, and the state of its
    delivery (at least once, with backoff, until delivered or given up)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        # One delivery per event and channel, whoever writes it: a receiver deduplicates by event id.
        UniqueConstraint("channel_id", "event_id"),
        # The relay's "due now": only pending rows are in the index.
        Index("ix_notification_deliveries_due", "next_attempt_at", **partial_where("status = 'pending'")),
        Index("ix_notification_deliveries_channel_history", "channel_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"), nullable=False)
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    job_id: Mapped[int | None] = mapped_column(Integer)  # the job the event is about (none for executor.lost)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, nullable=False)  # the event, as sent
    status: Mapped[str] = mapped_column(
        String(10), default=DeliveryStatus.PENDING, server_default=DeliveryStatus.PENDING, nullable=False
    )
    # Attempts begun; the relay's claim increments it, and fences the attempt's outcome on it.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    # Pending: when the next attempt may begin (a claimed attempt's lease ends then, too).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now(), nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

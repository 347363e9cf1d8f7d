"""Notifications: the events the scheduler announces (`events.py`), the bodies it sends for them (`bodies.py`),
how a delivery is signed and checked (`signature.py`) and when a failed delivery is tried again (`backoff.py`).

Each event is written to the outbox (store: notification_deliveries, one row per subscribed channel) in the
transaction that records what it announces; a timekeeper's relay POSTs it, at least once, signed."""

from scheduler_core.notifications.backoff import DeliveryBackoff
from scheduler_core.notifications.bodies import render_body, summary
from scheduler_core.notifications.events import EVENT_TYPES, ChannelFormat, Event, EventType, envelope, instant
from scheduler_core.notifications.signature import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    sign,
    signature_header,
    verify,
)

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPES",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "ChannelFormat",
    "DeliveryBackoff",
    "Event",
    "EventType",
    "envelope",
    "instant",
    "render_body",
    "sign",
    "signature_header",
    "summary",
    "verify",
]

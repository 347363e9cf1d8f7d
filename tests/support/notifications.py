"""Notification channels and the deliveries the store wrote, for the tests of every layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core.notifications import EVENT_TYPES
from scheduler_core.store.models import NotificationDelivery
from tests.support.stores import store_of_maker

Maker = async_sessionmaker[AsyncSession]

SECRET = "whsec-test-0123456789abcdef"


async def add_channel(
    sessionmaker: Maker,
    *,
    events: Sequence[str] = EVENT_TYPES,
    url: str = "http://127.0.0.1:9/hook",
    **values: Any,
) -> int:
    """A channel taking `events` (every type by default); returns its id."""
    store = store_of_maker(sessionmaker)
    async with sessionmaker.begin() as session:
        row = {"name": "test channel", "url": url, "events": list(events), "secret": SECRET, **values}
        return (await store.channels.create(session, row)).id


async def deliveries(
    sessionmaker: Maker, event_type: str | None = None, *, channel_id: int | None = None
) -> list[NotificationDelivery]:
    """The outbox's rows, oldest first (of one event type, or one channel, if given)."""
    async with sessionmaker() as session:
        query = select(NotificationDelivery).order_by(NotificationDelivery.id)
        if event_type is not None:
            query = query.where(NotificationDelivery.event_type == event_type)
        if channel_id is not None:
            query = query.where(NotificationDelivery.channel_id == channel_id)
        return list((await session.execute(query)).scalars())

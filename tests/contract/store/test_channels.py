"""Notification channels in the store, on both backends: created with the database's clock, read, listed in pages,
updated (stamped), deleted with their deliveries."""

from __future__ import annotations

from datetime import timedelta

from scheduler_core.notifications import Event, EventType
from scheduler_core.store import Store
from tests.contract.store.support import Maker, db_now
from tests.support.notifications import add_channel, deliveries


async def test_a_channel_is_created_read_and_updated_with_the_database_clock(store: Store, sessionmaker: Maker) -> None:
    before = await db_now(sessionmaker)
    channel_id = await add_channel(sessionmaker, events=["run.failed"], job_ids=[3, 4], format="slack")
    async with sessionmaker() as session:
        channel = await store.channels.get(session, channel_id)
    assert channel is not None
    assert (channel.events, channel.job_ids, channel.format, channel.enabled) == (["run.failed"], [3, 4], "slack", True)
    assert before - timedelta(seconds=1) <= channel.created_at <= await db_now(sessionmaker)
    assert channel.updated_at is None

    async with sessionmaker.begin() as session:
        updated = await store.channels.update(session, channel_id, {"enabled": False, "job_ids": None})
        assert updated is not None
        assert (updated.enabled, updated.job_ids, updated.events) == (False, None, ["run.failed"])
        assert updated.updated_at is not None
        assert await store.channels.update(session, channel_id + 1000, {"enabled": True}) is None


async def test_channels_are_listed_in_pages_by_id(store: Store, sessionmaker: Maker) -> None:
    ids = [await add_channel(sessionmaker, name=f"c{i}") for i in range(5)]
    async with sessionmaker() as session:
        first, total = await store.channels.list(session, 1, 2)
        last, _ = await store.channels.list(session, 3, 2)
    assert total == 5
    assert [c.id for c in first] == ids[:2]
    assert [c.id for c in last] == ids[4:]


async def test_deleting_a_channel_deletes_its_deliveries_and_no_others(store: Store, sessionmaker: Maker) -> None:
    gone, kept = await add_channel(sessionmaker), await add_channel(sessionmaker)
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        assert await store.deliveries.enqueue(session, [Event(EventType.EXECUTOR_LOST, now)]) == 2
    async with sessionmaker.begin() as session:
        assert await store.channels.delete(session, gone) is True
        assert await store.channels.delete(session, gone) is False
    async with sessionmaker() as session:
        assert await store.channels.get(session, gone) is None
    assert [d.channel_id for d in await deliveries(sessionmaker)] == [kept]

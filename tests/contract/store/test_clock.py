"""The database clock's contract (scheduler_core.store.clock, Clock), on PostgreSQL and on SQLite: an aware UTC
instant, the real time of each call rather than the start of the caller's transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

from scheduler_core.store import Store
from tests.contract.store.support import Maker


async def test_now_is_an_aware_utc_instant_of_the_call_not_of_the_transaction(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        first = await store.clock.now(session)
        await asyncio.sleep(0.05)
        second = await store.clock.now(session)
    assert first.tzinfo is UTC
    assert second.tzinfo is UTC
    assert second - first >= timedelta(milliseconds=40)

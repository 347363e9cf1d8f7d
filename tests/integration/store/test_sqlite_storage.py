"""The SQLite store's plain statements (store/sqlite/connection.py) store values exactly as SQLAlchemy does:
a slot written by one path is the same slot to the other (UNIQUE(job_id, scheduled_at) compares text), and
each reads back what the other wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import JobAdvance, NewExecution
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ScheduledJob, ScheduledJobExecution
from scheduler_core.store.sqlite import sqlite_store
from scheduler_core.store.sqlite.connection import from_instant, sqlite_connection, to_instant
from scheduler_core.store.types import UTCDateTime
from tests.support.databases import empty_tables
from tests.support.factories import interval_job, new_id

store = sqlite_store()

INSTANTS = [
    datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC),  # whole second: SQLAlchemy still writes ".000000"
    datetime(2026, 11, 30, 12, 0, 0, 7, tzinfo=UTC),
    datetime(2026, 11, 30, 14, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Berlin")),
]


@pytest.mark.parametrize("instant", INSTANTS, ids=str)
def test_an_instant_is_written_as_sqlalchemy_writes_it_and_read_back_equal(instant: datetime) -> None:
    # What SQLAlchemy writes for the models' instant columns on SQLite.
    dialect = sqlite.dialect()
    bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    assert to_instant(instant) == bind(instant)
    assert from_instant(to_instant(instant)) == instant
    assert from_instant("2026-11-30 12:00:00") == datetime(2026, 11, 30, 12, tzinfo=UTC)  # CURRENT_TIMESTAMP's text


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        to_instant(datetime(2026, 11, 30, 12))


async def test_slots_and_instants_are_shared_between_sqlalchemy_and_the_plain_statements(
    engines: dict[str, AsyncEngine],
) -> None:
    engine = engines["sqlite"]
    await empty_tables(engine)
    sessionmaker = create_sessionmaker(engine)
    slot = datetime(2025, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)  # in the past: due
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=slot)
        # Written through SQLAlchemy (the API's manual trigger path writes this way).
        session.add(ScheduledJobExecution(execution_id=new_id(), job_id=job.id, scheduled_at=slot, status_id=1))

    async with sessionmaker.begin() as session:
        # The same slot through the plain INSERT: the unique constraint sees it as taken.
        assert await store.outbox.add(session, [NewExecution(new_id(), job.id, slot)]) == []
        claim = await store.passes.claim_due(session, limit=10, lookahead=0.0)
        assert [(due.id, due.next_run_at) for due in claim.jobs] == [(job.id, slot)]
        later = slot + timedelta(seconds=1)
        written = new_id()
        record = await store.passes.record(
            session, [NewExecution(written, job.id, later)], [JobAdvance(job.id, later + timedelta(seconds=1), later)]
        )
        assert record.written == [written]
        assert record.earliest == later + timedelta(seconds=1)

    async with sessionmaker() as session:
        stored = (
            await session.execute(select(ScheduledJobExecution).where(ScheduledJobExecution.job_id == job.id))
        ).scalars()
        assert sorted(row.scheduled_at for row in stored) == [slot, later]
        advanced = await session.get(ScheduledJob, job.id)
        assert advanced is not None
        assert (advanced.next_run_at, advanced.last_run_at) == (later + timedelta(seconds=1), later)


async def test_the_plain_statements_refuse_a_postgresql_session(engines: dict[str, AsyncEngine]) -> None:
    async with create_sessionmaker(engines["postgresql"])() as session:
        with pytest.raises(TypeError, match="not an embedded SQLite connection"):
            await sqlite_connection(session)

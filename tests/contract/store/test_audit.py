"""The audit trail's contract (scheduler_core.store.audit, AuditStore), on PostgreSQL and on SQLite: a row is
written in the caller's transaction (so it exists only if that transaction commits) at the database clock's
instant; lists are newest first by (occurred_at, id), filtered, paged by offset and by keyset alike (checked
against a model of the filters on seeded random rows, ties of occurred_at included); retention deletes old rows in
batches and nothing newer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from scheduler_core.store import Actor, AuditAction, AuditEntry, AuditFilters, AuditPosition, Store
from scheduler_core.store.models import SchedulerAuditLog
from tests.contract.store.support import Maker, db_now

ALICE = Actor("alice-sub", "Alice Example", "203.0.113.7", "req-1")


async def rows(sessionmaker: Maker) -> list[SchedulerAuditLog]:
    async with sessionmaker() as session:
        return list((await session.execute(select(SchedulerAuditLog).order_by(SchedulerAuditLog.id))).scalars())


async def test_a_row_records_who_what_when_and_from_where(store: Store, sessionmaker: Maker) -> None:
    changes: dict[str, dict[str, Any]] = {
        "nameEn": {"before": "old", "after": "nouveau ✓"},
        "parameters": {"before": None, "after": {"a": [1]}},
    }
    before = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        written = await store.audit.record(
            session, AuditEntry(ALICE, AuditAction.UPDATE, job_id=7, target="exec-1", changes=changes)
        )
        assert written.id is not None
    after = await db_now(sessionmaker)
    [row] = await rows(sessionmaker)
    assert before <= row.occurred_at <= after  # the database clock, when the row was written
    assert (row.actor_subject, row.actor_name, row.client_address, row.request_id) == (
        "alice-sub",
        "Alice Example",
        "203.0.113.7",
        "req-1",
    )
    assert (row.action, row.job_id, row.target, row.changes) == ("update", 7, "exec-1", changes)


async def test_text_longer_than_its_column_is_cut_not_refused(store: Store, sessionmaker: Maker) -> None:
    long = Actor("s" * 300, "n" * 300, "c" * 300, "r" * 300)
    async with sessionmaker.begin() as session:
        await store.audit.record(session, AuditEntry(long, AuditAction.TRIGGER, job_id=1, target="t" * 300))
    [row] = await rows(sessionmaker)
    assert (len(row.actor_subject or ""), len(row.actor_name or ""), len(row.target or "")) == (255, 255, 255)
    assert (len(row.client_address or ""), len(row.request_id or "")) == (255, 128)
    assert row.changes is None


async def test_a_rolled_back_change_leaves_no_row(store: Store, sessionmaker: Maker) -> None:
    class ChangeFailed(Exception):
        pass

    async def change_that_fails() -> None:
        async with sessionmaker.begin() as session:
            await store.audit.record(session, AuditEntry(ALICE, AuditAction.DELETE, job_id=3))
            raise ChangeFailed

    with pytest.raises(ChangeFailed):
        await change_that_fails()
    assert await rows(sessionmaker) == []
    async with sessionmaker() as session:
        assert await store.audit.count(session, AuditFilters()) == 0


def _matches(row: SchedulerAuditLog, filters: AuditFilters) -> bool:
    return (
        (filters.job_id is None or row.job_id == filters.job_id)
        and (filters.actor is None or filters.actor in (row.actor_subject, row.actor_name))
        and (filters.action is None or row.action == filters.action.value)
        and (filters.occurred_from is None or row.occurred_at >= filters.occurred_from)
        and (filters.occurred_to is None or row.occurred_at <= filters.occurred_to)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_filters_offset_and_keyset_pages_agree_with_a_model(store: Store, sessionmaker: Maker, seed: int) -> None:
    rng = random.Random(seed)
    actors = [Actor("alice-sub", "Alice"), Actor("bob-sub", "Bob"), Actor("carol-sub", None), Actor(None, "cleanup")]
    base = datetime(2031, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        for _ in range(60):
            entry = AuditEntry(rng.choice(actors), rng.choice(list(AuditAction)), job_id=rng.choice([None, 1, 2, 3]))
            row = await store.audit.record(session, entry)
            # Few distinct instants, so that many rows tie on occurred_at and the id decides their order.
            instant = base + timedelta(seconds=rng.randrange(12))
            await session.execute(
                update(SchedulerAuditLog).where(SchedulerAuditLog.id == row.id).values(occurred_at=instant)
            )
    stored = await rows(sessionmaker)
    for _ in range(25):
        filters = AuditFilters(
            job_id=rng.choice([None, 1, 2, 3]),
            actor=rng.choice([None, "alice-sub", "Bob", "carol-sub", "cleanup", "nobody"]),
            action=rng.choice([None, *AuditAction]),
            occurred_from=rng.choice([None, base + timedelta(seconds=rng.randrange(12))]),
            occurred_to=rng.choice([None, base + timedelta(seconds=rng.randrange(12))]),
        )
        expected = [
            r.id for r in sorted(stored, key=lambda r: (r.occurred_at, r.id), reverse=True) if _matches(r, filters)
        ]
        per_page = rng.randrange(1, 8)
        async with sessionmaker() as session:
            assert await store.audit.count(session, filters) == len(expected)
            by_offset = []
            for offset in range(0, len(expected) + 1, per_page):
                page = await store.audit.page(session, filters, limit=per_page, offset=offset)
                by_offset += [r.id for r in page]
            by_keyset: list[int] = []
            position: AuditPosition | None = None
            while True:
                page = await store.audit.page(session, filters, limit=per_page, after=position)
                by_keyset += [r.id for r in page]
                if len(page) < per_page:
                    break
                position = AuditPosition(page[-1].occurred_at, page[-1].id)
        assert by_offset == expected, filters
        assert by_keyset == expected, filters


async def test_retention_deletes_rows_older_than_the_cutoff_in_batches(store: Store, sessionmaker: Maker) -> None:
    now = await db_now(sessionmaker)
    ages_days = [400, 390, 380, 370, 366, 364, 10, 0]
    async with sessionmaker.begin() as session:
        for age in ages_days:
            row = await store.audit.record(session, AuditEntry(ALICE, AuditAction.UPDATE, job_id=age))
            await session.execute(
                update(SchedulerAuditLog)
                .where(SchedulerAuditLog.id == row.id)
                .values(occurred_at=now - timedelta(days=age))
            )
    cutoff = now - timedelta(days=365)
    batches = []
    while True:
        async with sessionmaker.begin() as session:
            deleted = await store.audit.delete_before(session, cutoff, batch_size=2)
        if deleted == 0:
            break
        batches.append(deleted)
    assert batches == [2, 2, 1]
    assert sorted(r.job_id or 0 for r in await rows(sessionmaker)) == [0, 10, 364]

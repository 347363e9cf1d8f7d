"""The outbox's contract (scheduler_core.store.outbox, OutboxStore), on PostgreSQL and on SQLite: runs written
idempotently per slot, the relay's reading of the runs the broker has not confirmed (oldest first, then manual
runs at once), confirmations recorded, and manual runs whose confirmed message got lost sent back to the relay.
That a confirmation never waits for a row an executor holds is PostgreSQL's: tests/integration/store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from scheduler_core.store import ClaimOutcome, ExecutionFilters, NewExecution, PublishedRun, RunSlot, Store
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, Trigger
from scheduler_core.store.outbox import OutboxRun
from tests.contract.store.support import Maker, claim, db_now, executions, named, slots
from tests.support.factories import interval_job, new_id, task_function


async def test_add_is_idempotent_per_slot(store: Store, sessionmaker: Maker) -> None:
    slot = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        first = await store.outbox.add(session, [NewExecution(new_id(), job.id, slot)])
    fresh = new_id()
    async with sessionmaker.begin() as session:
        again = await store.outbox.add(
            session,
            [
                NewExecution(new_id(), job.id, slot),
                NewExecution(fresh, job.id, slot + timedelta(seconds=1)),
            ],
        )
    assert len(first) == 1
    assert again == [fresh]  # the existing slot was skipped, the new one written
    async with sessionmaker() as session:
        listed = await store.history.page(session, ExecutionFilters(job_id=job.id), per_page=20)
    rows = listed.executions
    assert listed.total == 2
    assert [r.scheduled_at for r in rows] == [slot + timedelta(seconds=1), slot]  # newest first
    assert all(r.status.name == "pending" and r.executor_id == "" for r in rows)


async def test_the_slot_constraint_rejects_a_second_row_written_around_the_store(sessionmaker: Maker) -> None:
    """The unique (job_id, scheduled_at) that makes add idempotent holds for rows written with SQLAlchemy too (as
    the API's manual trigger writes them)."""
    slot = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        session.add(ScheduledJobExecution(execution_id=new_id(), job_id=job.id, scheduled_at=slot, status_id=1))
    async with sessionmaker() as session:
        session.add(ScheduledJobExecution(execution_id=new_id(), job_id=job.id, scheduled_at=slot, status_id=1))
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()


async def test_add_takes_more_rows_than_a_statement_has_parameters(store: Store, sessionmaker: Maker) -> None:
    """One timekeeper pass can write thousands of slots (500 jobs x many slots with coalesce off): more than
    asyncpg's 32,767 bound parameters would allow in one INSERT (9 per row)."""
    base = datetime(2030, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        rows = [NewExecution(new_id(), job.id, base + timedelta(seconds=i)) for i in range(4000)]
        written = await store.outbox.add(session, rows)
    assert len(written) == 4000
    assert written == [row.execution_id for row in rows]  # in input order


async def test_unpublished_lists_runs_until_they_are_marked_published(store: Store, sessionmaker: Maker) -> None:
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, priority=4)
        ids = await store.outbox.add(
            session,
            [NewExecution(new_id(), job.id, datetime(2030, 1, 1, 0, 0, i, tzinfo=UTC)) for i in range(3)],
        )
    later = await db_now(sessionmaker) + timedelta(seconds=10)
    async with sessionmaker.begin() as session:
        before = await store.outbox.unpublished(session, created_before=later, limit=10)
        await store.outbox.mark_published(
            session, [RunSlot(ids[i], datetime(2030, 1, 1, 0, 0, i, tzinfo=UTC)) for i in range(2)], later
        )
    async with sessionmaker.begin() as session:
        after = await store.outbox.unpublished(session, created_before=later, limit=10)
        too_young = await store.outbox.unpublished(session, created_before=later - timedelta(minutes=10), limit=10)
    assert sorted(r.execution_id for r in before) == sorted(ids)
    assert all(r.priority == 4 for r in before)
    assert all(isinstance(r, OutboxRun) and r.job_id == job.id for r in before)
    assert [r.execution_id for r in after] == [ids[2]]
    assert too_young == []


async def test_unpublished_runs_are_the_oldest_first_then_manual_runs_at_once(
    store: Store, sessionmaker: Maker
) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, priority=3)
        rows = {
            "old_2": NewExecution(new_id(), job.id, now - timedelta(minutes=2)),
            "old_1": NewExecution(new_id(), job.id, now - timedelta(minutes=3)),
            "young": NewExecution(new_id(), job.id, now - timedelta(minutes=1)),
            "manual": NewExecution(new_id(), job.id, now, trigger=Trigger.MANUAL),
            "confirmed": NewExecution(new_id(), job.id, now - timedelta(minutes=4)),
            "done": NewExecution(
                new_id(), job.id, now - timedelta(minutes=5), status_id=ExecutionStatus.SUCCESS, completed_at=now
            ),
        }
        await store.outbox.add(session, list(rows.values()))
        created = {"old_2": 120, "old_1": 180, "young": 1, "manual": 1, "confirmed": 240, "done": 300}
        for name, seconds_ago in created.items():
            await session.execute(
                update(ScheduledJobExecution)
                .where(ScheduledJobExecution.execution_id == rows[name].execution_id)
                .values(created_at=now - timedelta(seconds=seconds_ago))
            )
        await store.outbox.mark_published(session, named([rows["confirmed"]]), now)
    cutoff = now - timedelta(seconds=60)
    async with sessionmaker.begin() as session:
        found = await store.outbox.unpublished(session, created_before=cutoff, limit=10)
        first = await store.outbox.unpublished(session, created_before=cutoff, limit=1)
    names = {row.execution_id: name for name, row in rows.items()}
    assert [names[r.execution_id] for r in found] == ["old_1", "old_2", "manual"]
    assert all(r.priority == 3 for r in found)  # the job's priority
    assert [(r.job_id, r.scheduled_at) for r in found] == [
        (job.id, rows[name].scheduled_at) for name in ("old_1", "old_2", "manual")
    ]
    assert [names[r.execution_id] for r in first] == ["old_1"]


async def test_record_published_marks_each_pending_run_at_its_own_instant_and_leaves_claimed_ones(
    store: Store, sessionmaker: Maker
) -> None:
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=5)
        first, second, claimed = new_id(), new_id(), new_id()
        await store.outbox.add(
            session,
            [NewExecution(eid, job.id, now - timedelta(seconds=i)) for i, eid in enumerate((first, second, claimed))],
        )
    [running] = await claim(sessionmaker, [claimed])
    assert running.outcome is ClaimOutcome.CLAIMED
    at = {first: now - timedelta(seconds=2), second: now - timedelta(milliseconds=500), claimed: now}
    slot_of = await slots(sessionmaker, list(at))
    published = [PublishedRun(eid, slot_of[eid], ts) for eid, ts in at.items()]
    async with sessionmaker.begin() as session:
        marked = await store.outbox.record_published(session, published)
        assert await store.outbox.record_published(session, []) == []
    assert sorted(marked) == sorted([first, second])  # a run already claimed needs no mark
    rows = await executions(sessionmaker, list(at))
    assert {eid: row.published_at for eid, row in rows.items()} == {first: at[first], second: at[second], claimed: None}


async def test_forget_all_makes_every_confirmed_pending_run_unpublished(store: Store, sessionmaker: Maker) -> None:
    """For a broker that keeps nothing across restarts: the relay publishes every pending run again."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=5)
        names = ("scheduled", "manual", "unconfirmed", "running", "done")
        ids = {name: new_id() for name in names}
        new = [
            NewExecution(ids["scheduled"], job.id, now - timedelta(seconds=1)),
            NewExecution(ids["manual"], job.id, now - timedelta(seconds=2), trigger=Trigger.MANUAL),
            NewExecution(ids["unconfirmed"], job.id, now - timedelta(seconds=3)),
            NewExecution(ids["running"], job.id, now - timedelta(seconds=4)),
            NewExecution(
                ids["done"], job.id, now - timedelta(seconds=5), status_id=ExecutionStatus.SUCCESS, completed_at=now
            ),
        ]
        await store.outbox.add(session, new)
        confirmed = [row for row in new if row.execution_id != ids["unconfirmed"]]
        await store.outbox.mark_published(session, named(confirmed), now)
    [running] = await claim(sessionmaker, [ids["running"]])
    assert running.outcome is ClaimOutcome.CLAIMED
    async with sessionmaker.begin() as session:
        assert await store.outbox.forget_all(session) == 2
    rows = await executions(sessionmaker, list(ids.values()))
    published = {name: rows[ids[name]].published_at for name in names}
    assert published == {"scheduled": None, "manual": None, "unconfirmed": None, "running": now, "done": now}


async def test_manual_runs_pending_long_after_their_confirmed_publish_go_back_to_the_outbox(
    store: Store, sessionmaker: Maker
) -> None:
    """forget_stale_ungraced: manual runs still pending whose message was confirmed before the bound become
    unpublished (the relay's to publish again), oldest confirmation first and at most `limit`; recent,
    unconfirmed, scheduled and running runs are left alone."""
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        task_id = await task_function(session)
        job = await interval_job(session, next_run_at=None, task_function_id=task_id)
        ids = {name: new_id() for name in ("oldest", "old", "recent", "unconfirmed", "scheduled", "running")}
        new = [
            NewExecution(ids[name], job.id, now - timedelta(seconds=400 + i), trigger="manual")
            for i, name in enumerate(("oldest", "old", "recent", "unconfirmed", "running"))
        ] + [NewExecution(ids["scheduled"], job.id, now - timedelta(seconds=600))]
        await store.outbox.add(session, new)
        by_id = {row.execution_id: row for row in new}
        confirmed_ago = {"oldest": 360, "old": 320, "recent": 60, "scheduled": 600, "running": 600}
        for name, ago in confirmed_ago.items():
            await store.outbox.mark_published(session, named([by_id[ids[name]]]), now - timedelta(seconds=ago))
    [running] = await claim(sessionmaker, [ids["running"]])
    assert running.outcome is ClaimOutcome.CLAIMED

    bound = now - timedelta(seconds=300)
    async with sessionmaker.begin() as session:
        first = await store.outbox.forget_stale_ungraced(session, published_before=bound, limit=1)
        rest = await store.outbox.forget_stale_ungraced(session, published_before=bound, limit=10)
    assert (first, rest) == ([ids["oldest"]], [ids["old"]])

    rows = await executions(sessionmaker, list(ids.values()))
    published = {name: rows[ids[name]].published_at for name in ids}
    assert published["oldest"] is None
    assert published["old"] is None
    assert published["unconfirmed"] is None
    assert published["recent"] == now - timedelta(seconds=60)
    assert published["scheduled"] == now - timedelta(seconds=600)
    assert published["running"] == now - timedelta(seconds=600)
    # The relay takes them: manual runs in the outbox are published at once.
    async with sessionmaker.begin() as session:
        outbox = await store.outbox.unpublished(session, created_before=now - timedelta(seconds=3600), limit=10)
    assert {row.execution_id for row in outbox} == {ids["oldest"], ids["old"], ids["unconfirmed"]}

"""The scheduling pass's contract (scheduler_core.store.passes, PassStore), on PostgreSQL and on SQLite: claim_due
returns the database's now and the schedulable jobs due by it (plus the look-ahead); record writes a pass's
runs, advances and confirmations and returns the soonest next_run_at; advance and claim_unscheduled. How
concurrent timekeepers share the due jobs (row locks) is PostgreSQL's: tests/integration/store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler_core.store import JobAdvance, NewExecution, PublishedRun, Store
from tests.contract.store.support import Maker, db_now, execution
from tests.support.factories import interval_job, new_id


async def test_claim_due_returns_the_database_now_and_only_the_jobs_due_by_it(
    store: Store, sessionmaker: Maker
) -> None:
    before = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        due = await interval_job(session, next_run_at=before - timedelta(seconds=5))
        await interval_job(session, next_run_at=before + timedelta(hours=1))
        await interval_job(session, next_run_at=before - timedelta(seconds=5), is_paused=True)
        await interval_job(session, next_run_at=None)
    async with sessionmaker.begin() as session:
        claim = await store.passes.claim_due(session, limit=10, lookahead=0.0)
    after = await db_now(sessionmaker)
    assert before <= claim.now <= after
    assert claim.horizon == claim.now
    assert [job.id for job in claim.jobs] == [due.id]
    assert all(job.next_run_at is not None and job.next_run_at <= claim.now for job in claim.jobs)

    async with sessionmaker.begin() as session:
        await store.passes.advance(session, [JobAdvance(due.id, after + timedelta(hours=2))])
    async with sessionmaker.begin() as session:
        empty = await store.passes.claim_due(session, limit=10, lookahead=0.0)
    assert empty.jobs == []
    assert empty.now >= after


async def test_claim_due_with_a_lookahead_takes_the_slots_due_within_it(store: Store, sessionmaker: Maker) -> None:
    before = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        soon = await interval_job(session, next_run_at=before + timedelta(seconds=30))
        await interval_job(session, next_run_at=before + timedelta(seconds=90))
    async with sessionmaker.begin() as session:
        claim = await store.passes.claim_due(session, limit=10, lookahead=60.0)
    assert claim.horizon == claim.now + timedelta(seconds=60)
    assert [job.id for job in claim.jobs] == [soon.id]
    async with sessionmaker.begin() as session:
        # No look-ahead: nothing due yet.
        assert (await store.passes.claim_due(session, limit=10, lookahead=0.0)).jobs == []


async def test_claim_due_takes_only_schedulable_due_jobs_and_record_reads_the_earliest_next_run(
    store: Store, sessionmaker: Maker
) -> None:
    now = await db_now(sessionmaker)
    past, future = now - timedelta(seconds=5), now + timedelta(hours=1)
    async with sessionmaker.begin() as session:
        due = await interval_job(session, next_run_at=past)
        await interval_job(session, next_run_at=future)
        await interval_job(session, next_run_at=past, is_enabled=False)
        await interval_job(session, next_run_at=past, is_paused=True)
        await interval_job(session, next_run_at=past, is_active=False)
        await interval_job(session, next_run_at=None)
    async with sessionmaker.begin() as session:
        claim = await store.passes.claim_due(session, limit=10, lookahead=0.0)
        record = await store.passes.record(session, [], [])
    assert [j.id for j in claim.jobs] == [due.id]
    assert claim.jobs[0].next_run_at == past
    assert record.written == []
    assert record.earliest == past


async def test_record_writes_runs_advances_jobs_marks_confirmations_and_returns_the_earliest(
    store: Store, sessionmaker: Maker
) -> None:
    now = await db_now(sessionmaker)
    slot = now - timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        claimed = await interval_job(session, next_run_at=slot)
        later = await interval_job(session, next_run_at=now + timedelta(seconds=30))
        other = await interval_job(session, next_run_at=None)
        confirmed = new_id()
        await store.outbox.add(session, [NewExecution(confirmed, other.id, now - timedelta(seconds=2))])
    existing_slot = slot - timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        await store.outbox.add(session, [NewExecution(new_id(), claimed.id, existing_slot)])

    run, duplicate = new_id(), new_id()
    confirmed_at = now - timedelta(milliseconds=1500)
    async with sessionmaker.begin() as session:
        claim = await store.passes.claim_due(session, limit=10, lookahead=0.0)
        assert [job.id for job in claim.jobs] == [claimed.id]
        record = await store.passes.record(
            session,
            [NewExecution(run, claimed.id, slot), NewExecution(duplicate, claimed.id, existing_slot)],
            [JobAdvance(claimed.id, now + timedelta(seconds=10), slot)],
            [PublishedRun(confirmed, now - timedelta(seconds=2), confirmed_at)],
        )
    # The claimed job's old slot (in the past) is not the earliest: its advance to +10 s is, ahead of +30 s.
    assert record.written == [run]  # the slot that already had a row is skipped
    assert record.earliest == now + timedelta(seconds=10)
    # The confirmation is marked with its own instant; the run just written is not confirmed yet.
    assert (await execution(sessionmaker, confirmed)).published_at == confirmed_at
    assert (await execution(sessionmaker, run)).published_at is None
    async with sessionmaker() as session:
        job = await store.jobs.get(session, claimed.id)
    assert job is not None
    assert (job.next_run_at, job.last_run_at) == (now + timedelta(seconds=10), slot)

    async with sessionmaker.begin() as session:
        record = await store.passes.record(session, [], [JobAdvance(claimed.id, now + timedelta(hours=1))], [])
    assert (record.written, record.earliest) == ([], later.next_run_at)
    async with sessionmaker.begin() as session:
        record = await store.passes.record(session, [], [JobAdvance(claimed.id, None), JobAdvance(later.id, None)])
    assert record.earliest is None


async def test_advance_sets_the_next_run_of_many_jobs_and_the_last_run_only_where_one_fired(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        a = await interval_job(session, next_run_at=None)
        b = await interval_job(session, next_run_at=None)
    t1, t2 = datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    fired = datetime(2030, 12, 31, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        await store.passes.advance(session, [JobAdvance(a.id, t1, fired), JobAdvance(b.id, t2)])
    async with sessionmaker.begin() as session:
        await store.passes.advance(session, [JobAdvance(a.id, t2)])  # no run fired: last_run_at stays
    async with sessionmaker() as session:
        found_a, found_b = await store.jobs.get(session, a.id), await store.jobs.get(session, b.id)
    assert found_a is not None
    assert found_b is not None
    assert (found_a.next_run_at, found_b.next_run_at) == (t2, t2)  # microseconds survive both backends
    assert (found_a.last_run_at, found_b.last_run_at) == (fired, None)


async def test_claim_unscheduled_takes_the_schedulable_jobs_that_have_no_slot_yet(
    store: Store, sessionmaker: Maker
) -> None:
    async with sessionmaker.begin() as session:
        first = await interval_job(session, next_run_at=None, priority=2)
        second = await interval_job(session, next_run_at=None)
        third = await interval_job(session, next_run_at=None)
        await interval_job(session, next_run_at=datetime(2030, 1, 1, tzinfo=UTC))
        await interval_job(session, next_run_at=None, is_enabled=False)
        await interval_job(session, next_run_at=None, is_paused=True)
        await interval_job(session, next_run_at=None, is_active=False)
    async with sessionmaker.begin() as session:
        taken = await store.passes.claim_unscheduled(session, limit=2)
        everything = await store.passes.claim_unscheduled(session, limit=10)
    unscheduled = {first.id, second.id, third.id}
    assert len(taken) == 2
    assert {job.id for job in taken} <= unscheduled
    assert {job.id for job in everything} == unscheduled
    by_id = {job.id: job for job in everything}
    assert (by_id[first.id].next_run_at, by_id[first.id].interval_seconds, by_id[first.id].priority) == (None, 1, 2)

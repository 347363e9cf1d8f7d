"""The timekeeper's statements (claim_due, record_pass, record_published, unpublished_runs) on PostgreSQL and
SQLite, and the plans PostgreSQL and SQLite choose for the ones that must stay on an index."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.db.engine import create_sessionmaker
from scheduler_core.db.models import ExecutionStatus, ScheduledJobExecution, Trigger
from scheduler_core.db.repository import (
    JobAdvance,
    NewExecution,
    PublishedRun,
    SchedulerRepository,
    db_now,
)
from tests.support.databases import empty_tables
from tests.support.factories import interval_job, new_id

repo = SchedulerRepository()
Maker = async_sessionmaker[AsyncSession]


async def _now(sessionmaker: Maker) -> datetime:
    async with sessionmaker() as session:
        return await db_now(session)


async def _execution(sessionmaker: Maker, execution_id: str) -> ScheduledJobExecution:
    async with sessionmaker() as session:
        query = select(ScheduledJobExecution).where(ScheduledJobExecution.execution_id == execution_id)
        return (await session.execute(query)).scalar_one()


async def test_claim_due_returns_the_database_now_and_only_the_jobs_due_by_it(sessionmaker: Maker) -> None:
    before = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        due = await interval_job(session, next_run_at=before - timedelta(seconds=5))
        await interval_job(session, next_run_at=before + timedelta(hours=1))
        await interval_job(session, next_run_at=before - timedelta(seconds=5), is_paused=True)
        await interval_job(session, next_run_at=None)
    async with sessionmaker.begin() as session:
        claim = await repo.claim_due(session, limit=10)
    after = await _now(sessionmaker)
    assert before <= claim.now <= after
    assert claim.horizon == claim.now
    assert [job.id for job in claim.jobs] == [due.id]
    assert all(job.next_run_at is not None and job.next_run_at <= claim.now for job in claim.jobs)

    async with sessionmaker.begin() as session:
        await repo.advance_jobs(session, [JobAdvance(due.id, after + timedelta(hours=2))])
    async with sessionmaker.begin() as session:
        empty = await repo.claim_due(session, limit=10)
    assert empty.jobs == []
    assert empty.now >= after


async def test_claim_due_with_a_lookahead_takes_the_slots_due_within_it(sessionmaker: Maker) -> None:
    before = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        soon = await interval_job(session, next_run_at=before + timedelta(seconds=30))
        await interval_job(session, next_run_at=before + timedelta(seconds=90))
    async with sessionmaker.begin() as session:
        claim = await repo.claim_due(session, limit=10, lookahead=60.0)
    assert claim.horizon == claim.now + timedelta(seconds=60)
    assert [job.id for job in claim.jobs] == [soon.id]
    async with sessionmaker.begin() as session:
        assert (await repo.claim_due(session, limit=10)).jobs == []  # no look-ahead: nothing due yet


async def test_record_pass_writes_runs_advances_jobs_marks_confirmations_and_returns_the_earliest(
    sessionmaker: Maker,
) -> None:
    now = await _now(sessionmaker)
    slot = now - timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        claimed = await interval_job(session, next_run_at=slot)
        later = await interval_job(session, next_run_at=now + timedelta(seconds=30))
        other = await interval_job(session, next_run_at=None)
        confirmed = new_id()
        await repo.create_executions(session, [NewExecution(confirmed, other.id, now - timedelta(seconds=2))])
    existing_slot = slot - timedelta(seconds=1)
    async with sessionmaker.begin() as session:
        await repo.create_executions(session, [NewExecution(new_id(), claimed.id, existing_slot)])

    run, duplicate = new_id(), new_id()
    confirmed_at = now - timedelta(milliseconds=1500)
    async with sessionmaker.begin() as session:
        claim = await repo.claim_due(session, limit=10)
        assert [job.id for job in claim.jobs] == [claimed.id]
        record = await repo.record_pass(
            session,
            [NewExecution(run, claimed.id, slot), NewExecution(duplicate, claimed.id, existing_slot)],
            [JobAdvance(claimed.id, now + timedelta(seconds=10), slot)],
            [PublishedRun(confirmed, confirmed_at)],
        )
    # The claimed job's old slot (in the past) is not the earliest: its advance to +10 s is, ahead of +30 s.
    assert record.written == [run]  # the slot that already had a row is skipped
    assert record.marked == [confirmed]
    assert record.earliest == now + timedelta(seconds=10)
    assert (await _execution(sessionmaker, confirmed)).published_at == confirmed_at
    assert (await _execution(sessionmaker, run)).published_at is None
    async with sessionmaker() as session:
        job = await repo.get_job_by_id(session, claimed.id)
    assert job is not None
    assert (job.next_run_at, job.last_run_at) == (now + timedelta(seconds=10), slot)

    async with sessionmaker.begin() as session:
        record = await repo.record_pass(session, [], [JobAdvance(claimed.id, now + timedelta(hours=1))], [])
    assert (record.written, record.marked, record.earliest) == ([], [], later.next_run_at)
    async with sessionmaker.begin() as session:
        record = await repo.record_pass(session, [], [JobAdvance(claimed.id, None), JobAdvance(later.id, None)])
    assert record.earliest is None


async def test_record_published_skips_a_row_locked_by_another_transaction_instead_of_waiting(
    pg_engine: AsyncEngine,
) -> None:
    """An executor claiming or finishing a run holds its row: the timekeeper's pass must not wait for it."""
    sessionmaker = create_sessionmaker(pg_engine)
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        locked, free = new_id(), new_id()
        await repo.create_executions(
            session, [NewExecution(locked, job.id, now), NewExecution(free, job.id, now + timedelta(seconds=1))]
        )
    published = [PublishedRun(locked, now), PublishedRun(free, now)]
    async with sessionmaker.begin() as holder:
        await holder.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == locked)
            .values(status_id=ExecutionStatus.RUNNING)
        )
        async with sessionmaker.begin() as session:
            marked = await asyncio.wait_for(repo.record_published(session, published), timeout=5)
        assert marked == [free]
    async with sessionmaker.begin() as session:
        # Committed as running by then: a run no longer pending needs no mark.
        assert await repo.record_published(session, published) == [free]


async def test_unpublished_runs_are_the_oldest_first_then_manual_runs_at_once(sessionmaker: Maker) -> None:
    now = await _now(sessionmaker)
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
        await repo.create_executions(session, list(rows.values()))
        created = {"old_2": 120, "old_1": 180, "young": 1, "manual": 1, "confirmed": 240, "done": 300}
        for name, seconds_ago in created.items():
            await session.execute(
                update(ScheduledJobExecution)
                .where(ScheduledJobExecution.execution_id == rows[name].execution_id)
                .values(created_at=now - timedelta(seconds=seconds_ago))
            )
        await repo.mark_published(session, [rows["confirmed"].execution_id], now)
    cutoff = now - timedelta(seconds=60)
    async with sessionmaker.begin() as session:
        found = await repo.unpublished_runs(session, created_before=cutoff, limit=10)
        first = await repo.unpublished_runs(session, created_before=cutoff, limit=1)
    names = {row.execution_id: name for name, row in rows.items()}
    assert [names[r[0]] for r in found] == ["old_1", "old_2", "manual"]
    assert all(r[3] == 3 for r in found)  # the job's priority
    assert [names[r[0]] for r in first] == ["old_1"]


# --- plans -----------------------------------------------------------------------------------------


@contextmanager
def captured(engine: AsyncEngine, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) containing `marker` that the engine sends inside the block."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if marker in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def _outbox_with_history(sessionmaker: Maker) -> None:
    """2,000 finished runs and 50 unconfirmed ones, with statistics, so that the plan is a real choice."""
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        base = datetime(2030, 1, 1, tzinfo=UTC)
        done = [
            NewExecution(
                new_id(), job.id, base + timedelta(seconds=i), status_id=ExecutionStatus.SUCCESS, completed_at=base
            )
            for i in range(2000)
        ]
        pending = [NewExecution(new_id(), job.id, base - timedelta(seconds=i + 1)) for i in range(50)]
        await repo.create_executions(session, done + pending)
        await repo.mark_published(session, [row.execution_id for row in done], base)
    async with sessionmaker.begin() as session:
        await session.execute(text("ANALYZE"))


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    assert isinstance(value, int | float | str)
    return f"'{value}'" if isinstance(value, str) else str(value)


async def test_the_outbox_relay_reads_the_outbox_partial_index_on_postgresql(
    pg_engine: AsyncEngine, postgres_url: str
) -> None:
    """Generic plans included (asyncpg prepares every statement, and PostgreSQL may switch a prepared statement
    to a generic plan): a `status_id = $1` predicate does not imply the index's `status_id = 1`, and an ORDER BY
    that the index does not provide sorts the whole outbox on every relay."""
    sessionmaker = create_sessionmaker(pg_engine)
    await _outbox_with_history(sessionmaker)
    with captured(pg_engine, "published_at IS NULL") as seen:
        async with sessionmaker.begin() as session:
            await repo.unpublished_runs(session, created_before=datetime(2030, 1, 1, tzinfo=UTC), limit=500)
    assert len(seen) == 2  # the runs older than the cutoff, then the manual ones
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        for mode in ("force_custom_plan", "force_generic_plan"):
            await connection.execute(f"SET plan_cache_mode = {mode}")
            for number, (statement, parameters) in enumerate(seen):
                name = f"outbox_{mode}_{number}"
                await connection.execute(f"PREPARE {name} AS {statement}")
                arguments = ", ".join(_literal(value) for value in parameters)
                plan = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE {name}({arguments})"))
                assert "Index Scan using ix_scheduled_job_execution_outbox" in plan, plan
                assert "Sort" not in plan, plan  # rows come in the index's order; the scan stops at the limit
    finally:
        await connection.close()


async def test_the_outbox_relay_reads_the_outbox_partial_index_on_sqlite(engines: dict[str, AsyncEngine]) -> None:
    engine = engines["sqlite"]
    await empty_tables(engine)
    sessionmaker = create_sessionmaker(engine)
    await _outbox_with_history(sessionmaker)
    with captured(engine, "published_at IS NULL") as seen:
        async with sessionmaker.begin() as session:
            await repo.unpublished_runs(session, created_before=datetime(2030, 1, 1, tzinfo=UTC), limit=500)
    assert len(seen) == 2
    async with engine.connect() as connection:
        for statement, parameters in seen:
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(parameters))).all()
            details = "\n".join(str(row[-1]) for row in plan)
            assert "USING INDEX ix_scheduled_job_execution_outbox" in details, details
            assert "TEMP B-TREE" not in details, details


async def test_the_claim_can_use_the_due_index_on_postgresql(pg_engine: AsyncEngine, postgres_url: str) -> None:
    """statement_timestamp() is stable, so it bounds the index scan (clock_timestamp() could not); the table is
    small here, so sequential scans are disabled to see whether the index can serve the claim at all."""
    sessionmaker = create_sessionmaker(pg_engine)
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        for i in range(20):
            await interval_job(session, next_run_at=now + timedelta(seconds=i))
    with captured(pg_engine, "statement_timestamp()") as seen:
        async with sessionmaker.begin() as session:
            await repo.claim_due(session, limit=500, lookahead=0.05)
    assert len(seen) == 1
    statement, parameters = seen[0]
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET enable_seqscan = off")
        for mode in ("force_custom_plan", "force_generic_plan"):
            await connection.execute(f"SET plan_cache_mode = {mode}")
            name = f"claim_{mode}"
            await connection.execute(f"PREPARE {name} AS {statement}")
            arguments = ", ".join(_literal(value) for value in parameters)
            plan = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE {name}({arguments})"))
            # An index scan, or on this small table a bitmap scan of the index, bounded by the horizon.
            assert re.search(r"Index Scan (using|on) ix_scheduled_job_due", plan), plan
            # The look-ahead is folded into a constant in a custom plan, a parameter in a generic one.
            assert re.search(r"Index Cond: \(next_run_at <= \(statement_timestamp\(\) \+ ", plan), plan
    finally:
        await connection.close()

"""The plans PostgreSQL chooses for the statements that must stay on an index whatever the tables hold, custom
and generic plans alike (asyncpg prepares every statement, and the server may switch a prepared statement to a
generic plan): the claim and the finish reach their runs by execution id, the outbox relay reads the outbox's
partial index in order, and the timekeeper's claim can use the due index."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import NewExecution, Store
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, ScheduledJobLock
from scheduler_core.store.postgres.claims import _CLAIM_PENDING, _CLAIM_WRITE, _JOB_STATE
from scheduler_core.store.postgres.outbox import _MARK_PUBLISHED
from scheduler_core.store.postgres.outcomes import _RECORD_OUTCOMES
from scheduler_core.store.postgres.partitions import week_name
from tests.contract.store.support import OUTBOX_BASE, captured, db_now, hold_locks, outbox_with_history
from tests.support.factories import interval_job, new_id
from tests.support.plans import Plans


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    assert isinstance(value, int | float | str)
    return f"'{value}'" if isinstance(value, str) else str(value)


async def _explain(
    connection: asyncpg.Connection, name: str, statement: Any, arguments: dict[str, str], dialect: Any
) -> str:
    """EXPLAIN of the statement prepared on the connection as `name` and executed with these SQL literals (by
    parameter name), under the connection's plan cache mode."""
    compiled = statement.compile(dialect=dialect)
    assert compiled.positiontup is not None
    assert set(compiled.positiontup) == set(arguments)
    await connection.execute(f"PREPARE {name} AS {compiled.string}")
    listed = ", ".join(arguments[parameter] for parameter in compiled.positiontup)
    return "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE {name}({listed})"))


def _dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_a_claims_job_state_reads_indexes_only_under_a_cached_generic_plan(
    pg_engine: AsyncEngine, pg_store: Store, postgres_url: str
) -> None:
    """The jobs' state a claim reads under their locks (live locks, the queue's head, the oldest running run) is a
    few index probes per job, whatever the history holds: the lock table by job, the queue's partial index."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=100)
        history = [
            NewExecution(new_id(), job.id, now - timedelta(seconds=10_000 + i), status_id=ExecutionStatus.SUCCESS)
            for i in range(3000)
        ]
        await pg_store.outbox.add(session, history)
    async with pg_engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE scheduled_job_execution")
        await connection.commit()
    arguments = {
        "now": "now()",
        "job_ids": f"ARRAY[{job.id}]",
        "max_instances": "ARRAY[100]",
        "queues": "ARRAY[true]",
        "replaces": "ARRAY[true]",
    }
    connection = await asyncpg.connect(_dsn(postgres_url))
    try:
        await connection.execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        raw = await _explain(connection, "job_state", _JOB_STATE, arguments, pg_engine.dialect)
        await connection.execute("ROLLBACK")
        plans = await Plans.read(connection)
    finally:
        await connection.close()
    plan = plans.as_parents(raw)
    assert "$1" in plan or "$2" in plan, plan  # a generic plan
    assert "ix_scheduled_job_lock_job_id" in plan, plan
    assert "ix_scheduled_job_execution_queue" in plan, plan
    assert plans.populated_seq_scans(raw) == [], raw


async def test_batches_find_their_runs_by_id_under_a_cached_generic_plan(
    pg_engine: AsyncEngine, pg_store: Store, postgres_url: str
) -> None:
    """The server caches one generic plan per prepared statement, blind to the arrays' lengths: each statement
    must still reach its runs through the batch's own keys, the unique execution_id or the runs' slots (the
    partition key they name: ix_scheduled_job_execution_slot, which reads the runs of those slots only), never by
    reading every pending or running run (ix_scheduled_job_execution_open), which would make a claim cost grow with
    the backlog."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=100)
        history = [
            NewExecution(new_id(), job.id, now - timedelta(seconds=10_000 + i), status_id=ExecutionStatus.SUCCESS)
            for i in range(3000)
        ]
        pending = [NewExecution(new_id(), job.id, now - timedelta(seconds=i)) for i in range(300)]
        await pg_store.outbox.add(session, history + pending)
    ids = [row.execution_id for row in pending[:3]]
    slots = "ARRAY[" + ", ".join(f"'{row.scheduled_at.isoformat()}'" for row in pending[:3]) + "]::timestamptz[]"
    async with pg_engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE scheduled_job_execution")
        await connection.commit()

    # Each statement's arguments by parameter name (SQL literals).
    statements = {
        _CLAIM_PENDING: {"ids": f"ARRAY{ids}", "slots": slots},
        _CLAIM_WRITE: {
            "ids": f"ARRAY{ids}",
            "slots": slots,
            "statuses": "ARRAY[2, 6, 8]",
            "reasons": "ARRAY[NULL, 'skipped: full', 'queued: full']::text[]",
            "replaced_ids": "ARRAY[]::varchar[]",
            "replaced_slots": "ARRAY[]::timestamptz[]",
            "replaced_by": "ARRAY[]::text[]",
            "now": "now()",
            "instance_id": "'exec-1'",
            "host_name": "'h'",
            "expires_at": "now() + interval '1 minute'",
        },
        _RECORD_OUTCOMES: {
            "ids": f"ARRAY{ids}",
            "slots": slots,
            "instance_id": "'exec-1'",
            "statuses": "ARRAY[3, 3, 3]",
            "durations": "ARRAY[1, 1, 1]",
            "results": "ARRAY[NULL, NULL, NULL]::text[]",
            "errors": "ARRAY[NULL, NULL, NULL]::text[]",
            "tracebacks": "ARRAY[NULL, NULL, NULL]::text[]",
            "starts": "ARRAY[NULL, NULL, NULL]::timestamptz[]",
        },
    }
    # A connection of its own: the plan cache mode and the prepared statements stay with it.
    connection = await asyncpg.connect(_dsn(postgres_url))
    try:
        plans = await Plans.read(connection)
        await connection.execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        for number, (statement, arguments) in enumerate(statements.items()):
            raw = await _explain(connection, f"claim_plan_{number}", statement, arguments, pg_engine.dialect)
            plan = plans.as_parents(raw)
            assert plans.populated_seq_scans(raw) == [], raw
            assert "$1" in plan or "$2" in plan, plan  # a generic plan
            assert "ix_scheduled_job_execution_open" not in plan, plan
            by_slot = re.search(r"ix_scheduled_job_execution_slot.*\n.*Index Cond: \(scheduled_at = ANY", plan)
            assert "uq_scheduled_job_execution_execution_id" in plan or by_slot, plan
        await connection.execute("ROLLBACK")
    finally:
        await connection.close()


async def test_the_outbox_relay_reads_the_outbox_partial_index_on_postgresql(
    pg_engine: AsyncEngine, pg_store: Store, postgres_url: str
) -> None:
    """Generic plans included: a `status_id = $1` predicate does not imply the index's `status_id = 1`, and a
    partition holding runs is read through its outbox index, never scanned whole."""
    sessionmaker = create_sessionmaker(pg_engine)
    await outbox_with_history(sessionmaker)
    with captured(pg_engine, "published_at IS NULL") as seen:
        async with sessionmaker.begin() as session:
            await pg_store.outbox.unpublished(session, created_before=OUTBOX_BASE, limit=500)
    assert len(seen) == 2  # the runs older than the cutoff, then the manual ones
    connection = await asyncpg.connect(_dsn(postgres_url))
    try:
        plans = await Plans.read(connection)
        for mode in ("force_custom_plan", "force_generic_plan"):
            await connection.execute(f"SET plan_cache_mode = {mode}")
            for number, (statement, parameters) in enumerate(seen):
                name = f"outbox_{mode}_{number}"
                await connection.execute(f"PREPARE {name} AS {statement}")
                arguments = ", ".join(_literal(value) for value in parameters)
                raw = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE {name}({arguments})"))
                plan = plans.as_parents(raw)
                assert "Index Scan using ix_scheduled_job_execution_outbox" in plan, plan
                assert plans.populated_seq_scans(raw) == [], raw
                # Each partition's rows come in its index's order; across the day partitions the planner may merge
                # them or sort what the partial indexes hold (the outbox's runs alone, never the history's).
                assert "Sort" not in plan or "Index Scan using ix_scheduled_job_execution_outbox" in plan, plan
    finally:
        await connection.close()


async def test_the_claim_can_use_the_due_index_on_postgresql(
    pg_engine: AsyncEngine, pg_store: Store, postgres_url: str
) -> None:
    """statement_timestamp() is stable, so it bounds the index scan (clock_timestamp() could not); the table is
    small here, so sequential scans are disabled to see whether the index can serve the claim at all."""
    sessionmaker = create_sessionmaker(pg_engine)
    now = await db_now(sessionmaker)
    async with sessionmaker.begin() as session:
        for i in range(20):
            await interval_job(session, next_run_at=now + timedelta(seconds=i))
    with captured(pg_engine, "statement_timestamp()") as seen:
        async with sessionmaker.begin() as session:
            await pg_store.passes.claim_due(session, limit=500, lookahead=0.05)
    assert len(seen) == 1
    statement, parameters = seen[0]
    connection = await asyncpg.connect(_dsn(postgres_url))
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


async def test_a_lease_renewal_visits_only_its_own_locks_under_either_plan(
    pg_engine: AsyncEngine, pg_store: Store, postgres_url: str
) -> None:
    """A heartbeat renews its executor's leases in one statement whose cost follows the ids it names, whatever the
    lock table holds and whichever plan the server caches: never a scan of every lock, nor one id array searched
    once per lock. Here 3,000 locks of other executors; the renewal names 3 runs."""
    maker = create_sessionmaker(pg_engine)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=10_000)
        for owner in range(3):
            await hold_locks(session, job.id, f"exec-{owner}", 60, count=1000)
        await hold_locks(session, job.id, "exec-9", 60, count=3)
    async with pg_engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE scheduled_job_lock")
        await connection.commit()
    async with maker() as session:
        held = [
            lock.execution_id for lock in await session.scalars(select(ScheduledJobLock).filter_by(locked_by="exec-9"))
        ]
    with captured(pg_engine, "UPDATE scheduled_job_lock") as seen:
        async with maker.begin() as session:
            renewal = await pg_store.outcomes.renew_leases(session, "exec-9", 60, held)
    assert renewal.held == set(held)
    [(statement, parameters)] = seen
    connection = await asyncpg.connect(_dsn(postgres_url))
    try:
        for mode in ("force_custom_plan", "force_generic_plan"):
            await connection.execute(f"BEGIN; SET LOCAL plan_cache_mode = {mode}")
            name = f"renew_{mode}"
            await connection.execute(f"PREPARE {name} AS {statement}")
            arguments = ", ".join(
                f"ARRAY{value}::varchar[]" if isinstance(value, list) else _literal(value) for value in parameters
            )
            plan = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN EXECUTE {name}({arguments})"))
            assert "Seq Scan on scheduled_job_lock" not in plan, plan
            await connection.execute("ROLLBACK")
    finally:
        await connection.close()


async def test_a_batchs_statements_read_only_the_partition_of_its_runs_slots(
    pg_engine: AsyncEngine, pg_store: Store, postgres_url: str
) -> None:
    """The executions are partitioned by week (migration 0012): a claim, a finish and a published mark name their
    runs' slots, so that each reads and writes the one partition those slots fall in, however many weeks exist (the
    product plans every statement for its values: plan_cache_mode = force_custom_plan)."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    async with maker.begin() as session:
        job = await interval_job(session, next_run_at=None, max_instances=100)
        for back in range(1, 4):  # weeks before this one too, each a partition with runs
            await pg_store.partitions.make_week(session, (noon - timedelta(days=7 * back)).date())
        others = [NewExecution(new_id(), job.id, noon - timedelta(days=7 * w, seconds=1)) for w in range(4)]
        batch = [NewExecution(new_id(), job.id, noon + timedelta(seconds=i)) for i in range(3)]
        await pg_store.outbox.add(session, others + batch)
    ids = "ARRAY[" + ", ".join(f"'{row.execution_id}'" for row in batch) + "]::varchar[]"
    slots = "ARRAY[" + ", ".join(f"'{row.scheduled_at.isoformat()}'" for row in batch) + "]::timestamptz[]"
    statements = {
        _CLAIM_PENDING: {"ids": ids, "slots": slots},
        _RECORD_OUTCOMES: {
            "ids": ids,
            "slots": slots,
            "instance_id": "'exec-1'",
            "statuses": "ARRAY[3, 3, 3]",
            "durations": "ARRAY[1, 1, 1]",
            "results": "ARRAY[NULL, NULL, NULL]::text[]",
            "errors": "ARRAY[NULL, NULL, NULL]::text[]",
            "tracebacks": "ARRAY[NULL, NULL, NULL]::text[]",
            "starts": "ARRAY[NULL, NULL, NULL]::timestamptz[]",
        },
        _MARK_PUBLISHED: {
            "published_ids": ids,
            "published_slots": slots,
            "published_ats": f"ARRAY['{now}']::timestamptz[]",
        },
    }
    today = week_name(noon.date())
    connection = await asyncpg.connect(_dsn(postgres_url))
    try:
        await connection.execute("SET plan_cache_mode = force_custom_plan")
        for number, (statement, arguments) in enumerate(statements.items()):
            plan = await _explain(connection, f"pruned_{number}", statement, arguments, pg_engine.dialect)
            # The runs' own reads and writes (aliases e and x); the finish's queue probe (alias w, q) reads each
            # day's partial queue index by job, normally empty, and is not the batch's.
            touched = set(re.findall(r"on (scheduled_job_execution_\w+) (?:e|x)(?:_\d+)?\b", plan))
            assert touched == {today}, plan
    finally:
        await connection.close()

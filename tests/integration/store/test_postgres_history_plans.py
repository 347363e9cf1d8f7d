"""No history statement whose plan can flip: every statement behind GET /history, GET /jobs/{id}/history and
GET /status, for each filter and each way of paging, is planned on an index of the executions under a cached
generic plan as under a custom one, over a few hundred thousand runs.

asyncpg prepares every statement and PostgreSQL may switch a prepared statement to a generic plan after five
executions, planned blind to its parameters. The statuses and triggers are literals (portable.history.planned_value),
so a generic plan still knows them; what stays a parameter (a job id, a cursor, a slot range, the page size) is
a value whose generic plan is the custom one's: an index range scan in slot order."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import ExecutionFilters, SlotPosition, Store
from scheduler_core.store.engine import create_engine, create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, Trigger
from scheduler_core.store.postgres import postgres_store
from tests.contract.store.support import captured
from tests.support.databases import fresh_postgres_database, postgres_server
from tests.support.history import generate_history
from tests.support.plans import Plans

# Runs in the table: enough that a sequential scan is the planner's choice wherever no index fits.
RUNS = 300_000
JOBS = 300
MODES = ("force_custom_plan", "force_generic_plan")
EXECUTIONS = "scheduled_job_execution"


@pytest.fixture(scope="module")
async def big_history() -> Any:
    """A database of its own with RUNS runs, vacuumed and analysed: (url, engine, job ids, a mid-history slot)."""
    async with postgres_server() as server, fresh_postgres_database(server) as url:
        engine = create_engine(url, pool_size=2)
        store = postgres_store()
        async with create_sessionmaker(engine)() as session:
            today = (await store.clock.now(session)).date()
        days = RUNS // JOBS // 24 + 2  # one run an hour per job: the history's span, each week a partition
        for back in range(days, 0, -1):
            async with create_sessionmaker(engine).begin() as session:
                await store.partitions.make_week(session, today - timedelta(days=back))
        async with engine.begin() as connection:
            jobs = await generate_history(connection, rows=RUNS, jobs=JOBS)
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(f"VACUUM ANALYZE {EXECUTIONS}")
            middle = (
                await connection.exec_driver_sql(f"SELECT max(scheduled_at) - interval '400 hours' FROM {EXECUTIONS}")
            ).scalar_one()
        try:
            yield url, engine, jobs, middle
        finally:
            await engine.dispose()


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    assert isinstance(value, int), value
    return str(value)


async def _statements(engine: AsyncEngine, store: Store, jobs: list[int], middle: datetime) -> list[tuple[str, Any]]:
    """What the store sends for each filter shape and way of paging, and for the status page."""
    sessionmaker = create_sessionmaker(engine)
    job = jobs[len(jobs) // 2]
    window = ExecutionFilters(scheduled_from=middle - timedelta(hours=48), scheduled_to=middle)
    shapes = [
        ExecutionFilters(),
        ExecutionFilters(job_id=job),
        ExecutionFilters(status_id=ExecutionStatus.FAILED),
        ExecutionFilters(status_id=ExecutionStatus.SUCCESS),
        ExecutionFilters(trigger=Trigger.MANUAL),
        ExecutionFilters(trigger=Trigger.SCHEDULE),
        window,
        ExecutionFilters(job_id=job, status_id=ExecutionStatus.FAILED),
        ExecutionFilters(job_id=job, status_id=ExecutionStatus.SUCCESS),
        ExecutionFilters(job_id=job, status_id=ExecutionStatus.RUNNING),
        ExecutionFilters(job_id=job, trigger=Trigger.BACKFILL),
        replace(window, status_id=ExecutionStatus.FAILED),
    ]
    cursor = SlotPosition(middle, 10**12)
    with captured(engine, EXECUTIONS) as seen:
        async with sessionmaker() as session:
            for filters in shapes:
                await store.history.page(session, filters, per_page=20)
                await store.history.page(session, filters, per_page=20, after=cursor)
                await store.history.page(session, filters, per_page=20, offset=200)
            await store.history.count_running(session)
            await store.history.running(session, 100)
            await store.history.count_open(session, job)
    # EXPLAIN (the estimate of a total) is planned afresh each time: no plan of its own to cache.
    return list(
        {
            statement: (statement, parameters) for statement, parameters in seen if not statement.startswith("EXPLAIN")
        }.values()
    )


async def test_every_history_and_status_statement_reads_an_index_under_a_cached_generic_plan(big_history: Any) -> None:
    url, engine, jobs, middle = big_history
    statements = await _statements(engine, postgres_store(), jobs, middle)
    # Each shape's pages (first, cursor, and by number: its start, then its rows unless that is past the last
    # page), its count; the status page's three.
    assert 12 * 3 + 12 + 3 < len(statements) <= 12 * 4 + 12 + 3
    assert any("OFFSET" in statement for statement, _ in statements)
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        plans = await Plans.read(connection)
        for mode in MODES:
            await connection.execute(f"SET plan_cache_mode = {mode}")
            for number, (statement, parameters) in enumerate(statements):
                name = f"history_{mode}_{number}"
                await connection.execute(f"PREPARE {name} AS {statement}")
                arguments = ", ".join(_literal(value) for value in parameters)
                execute = f"EXECUTE {name}({arguments})" if parameters else f"EXECUTE {name}"
                raw = "\n".join(row[0] for row in await connection.fetch(f"EXPLAIN {execute}"))
                plan = plans.as_parents(raw)
                context = f"{mode}\n{statement}\n{parameters}\n{raw}"
                if mode == "force_generic_plan" and "$" in statement.split("LIMIT")[0]:
                    assert "$" in plan, context  # the plan is the generic one, blind to the parameters
                assert plans.populated_seq_scans(raw) == [], context
                # A job's runs are read in its unique (job_id, scheduled_at, attempt) (migration 0010).
                index_scan = r"Index (Only )?Scan.* on scheduled_job_execution|Bitmap Index Scan on (ix_|uq_{}_job_id)"
                assert re.search(index_scan.format(EXECUTIONS), plan), context
                assert "Gather" not in plan, context  # no parallel workers: nothing reads enough rows to want them
    finally:
        await connection.close()

"""The plans SQLite chooses for the statements that must stay on an index whatever the tables hold: the outbox
relay reads the outbox's partial index in order (no temporary sort of the outbox on every relay), and history
pages read the index of their filter in slot order."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import ExecutionFilters, NewExecution, SlotPosition
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, Trigger
from scheduler_core.store.sqlite import sqlite_store
from tests.contract.store.support import OUTBOX_BASE, captured, outbox_with_history
from tests.support.databases import empty_tables
from tests.support.factories import interval_job, new_id


async def test_the_outbox_relay_reads_the_outbox_partial_index_on_sqlite(engines: dict[str, AsyncEngine]) -> None:
    engine = engines["sqlite"]
    await empty_tables(engine)
    sessionmaker = create_sessionmaker(engine)
    await outbox_with_history(sessionmaker)
    with captured(engine, "published_at IS NULL") as seen:
        async with sessionmaker.begin() as session:
            await sqlite_store().outbox.unpublished(session, created_before=OUTBOX_BASE, limit=500)
    assert len(seen) == 2  # the runs older than the cutoff, then the manual ones
    async with engine.connect() as connection:
        for statement, parameters in seen:
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(parameters))).all()
            details = "\n".join(str(row[-1]) for row in plan)
            assert "USING INDEX ix_scheduled_job_execution_outbox" in details, details
            assert "TEMP B-TREE" not in details, details


async def test_history_pages_read_an_index_in_slot_order_on_sqlite(engines: dict[str, AsyncEngine]) -> None:
    """Each filter has an index that holds the slot order after it, so a page is an ordered index range scan that
    stops after the page (no full scan, no temporary sort). SQLite plans without the bound values (no STAT4), so a
    plan cannot flip with them; the statuses and triggers are literals anyway, which a partial index needs."""
    engine = engines["sqlite"]
    await empty_tables(engine)
    sessionmaker = create_sessionmaker(engine)
    store = sqlite_store()
    base = datetime(2031, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        await store.outbox.add(
            session,
            [
                NewExecution(new_id(), job.id, base + timedelta(minutes=i), status_id=3, trigger=Trigger.SCHEDULE)
                for i in range(2000)
            ],
        )
    window = ExecutionFilters(scheduled_from=base, scheduled_to=base + timedelta(hours=5))
    shapes = [
        ExecutionFilters(),
        ExecutionFilters(job_id=job.id),
        ExecutionFilters(status_id=ExecutionStatus.FAILED),
        ExecutionFilters(trigger=Trigger.MANUAL),
        ExecutionFilters(trigger=Trigger.SCHEDULE),
        window,
        replace(window, status_id=ExecutionStatus.FAILED),
        ExecutionFilters(job_id=job.id, status_id=ExecutionStatus.FAILED),
        ExecutionFilters(job_id=job.id, status_id=ExecutionStatus.SUCCESS),
    ]
    with captured(engine, "ORDER BY scheduled_job_execution.scheduled_at DESC") as seen:
        async with sessionmaker() as session:
            for filters in shapes:
                await store.history.page(session, filters, per_page=20)
                await store.history.page(session, filters, per_page=20, after=SlotPosition(base, 10))
    assert len(seen) == 2 * len(shapes)
    async with engine.connect() as connection:
        for statement, parameters in seen:
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(parameters))).all()
            details = "\n".join(str(row[-1]) for row in plan)
            # A job's pages read the unique (job_id, scheduled_at, attempt) (migration 0010), SQLite's autoindex.
            by_job = "job_id = ?" in statement and "status_id) > 3" not in statement  # a rare status: its own index
            index = r"sqlite_autoindex_scheduled_job_execution_\d \(job_id=\?" if by_job else "ix_"
            assert re.search(rf"(SEARCH|SCAN) scheduled_job_execution USING (COVERING )?INDEX {index}", details), (
                details
            )
            assert "TEMP B-TREE" not in details, (statement, details)
            if "trigger = 'manual'" in statement:
                assert "ix_scheduled_job_execution_trigger_slot" in details, details
            if "job_id = ? AND scheduled_job_execution.status_id = 4" in statement:
                assert "ix_scheduled_job_execution_job_status_slot (job_id=? AND status_id=?" in details, details

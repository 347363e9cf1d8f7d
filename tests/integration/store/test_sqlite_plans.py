"""The plans SQLite chooses for the statements that must stay on an index whatever the tables hold: the outbox
relay reads the outbox's partial index in order (no temporary sort of the outbox on every relay)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.sqlite import sqlite_store
from tests.contract.store.support import OUTBOX_BASE, captured, outbox_with_history
from tests.support.databases import empty_tables


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

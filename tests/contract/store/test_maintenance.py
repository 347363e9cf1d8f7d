"""Maintenance's contract (scheduler_core.store.maintenance): what is switched off that the scheduler's tables need.
PostgreSQL: autovacuum or track_counts off on the server (whatever this test server runs with, read with SHOW),
and autovacuum disabled on one of the tables every run rewrites; SQLite: nothing to switch off."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import MaintenanceWarning, Store
from tests.contract.store.support import Maker
from tests.support.databases import autovacuum_disabled, server_setting


async def warnings(store: Store, sessionmaker: Maker) -> list[MaintenanceWarning]:
    async with sessionmaker() as session:
        return await store.maintenance.warnings(session)


async def server_warnings(engine: AsyncEngine) -> list[str]:
    """The codes the server's own configuration calls for (it is shared, and never changed by a test)."""
    if engine.dialect.name != "postgresql":
        return []
    return [f"{name}_off" for name in ("autovacuum", "track_counts") if await server_setting(engine, name) == "off"]


async def test_the_servers_settings_are_reported_as_they_are(
    store: Store, sessionmaker: Maker, engine: AsyncEngine
) -> None:
    found = await warnings(store, sessionmaker)
    assert [warning.code for warning in found] == await server_warnings(engine)
    assert all("= off" in warning.message for warning in found)  # says which setting, and how to fix it


# The executions are partitioned on PostgreSQL (a partitioned table has no storage options): one of its partitions.
@pytest.mark.parametrize("table", ["scheduled_job_execution_default", "scheduled_job_lock"])
@pytest.mark.parametrize("spelling", ["false", "off"])
async def test_a_hot_table_with_autovacuum_disabled_is_named(
    store: Store, sessionmaker: Maker, engine: AsyncEngine, table: str, spelling: str
) -> None:
    if engine.dialect.name != "postgresql":  # SQLite has no autovacuum to disable, nor anything to warn about
        assert await warnings(store, sessionmaker) == []
        return
    expected = await server_warnings(engine)
    async with autovacuum_disabled(engine, table, spelling):
        during = await warnings(store, sessionmaker)
    after = await warnings(store, sessionmaker)
    assert [warning.code for warning in during] == [*expected, "table_autovacuum_disabled"]
    assert f"ALTER TABLE {table} RESET (autovacuum_enabled)" in during[-1].message
    assert [warning.code for warning in after] == expected

"""Migrations on empty PostgreSQL and SQLite databases: the reference's tables and columns, the models and
the migrations agree, a failing migration leaves nothing behind, and services refuse an unmigrated schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler_core.store.engine import create_engine
from scheduler_core.store.migration import (
    SchemaNotReady,
    alembic_config,
    current_revision,
    ensure_migrated,
    head_revision,
    include_name,
    upgrade,
)
from scheduler_core.store.models import Base
from tests.support.databases import fresh_postgres_database, postgres_server, sqlite_url
from tests.support.history import generate_history

# Every table and column of the reference (job-scheduler-reference.md), by name.
REFERENCE_COLUMNS = {
    "scheduled_job": {
        "id", "task_function_id", "job_type_id", "name_en", "name_ar", "description_en", "description_ar",
        "interval_seconds", "interval_minutes", "interval_hours", "interval_days", "cron_expression",
        "priority", "max_instances", "misfire_grace_time", "coalesce", "is_enabled", "is_active", "is_primary",
        "last_run_at", "created_at", "updated_at", "created_by_id", "updated_by_id",
    },
    "scheduled_job_execution": {
        "id", "job_id", "execution_id", "scheduled_at", "started_at", "completed_at", "duration_ms", "status_id",
        "error_message", "error_traceback", "result_summary", "executor_id", "host_name", "created_at",
    },
    "scheduled_job_lock": {"id", "job_id", "execution_id", "locked_by", "locked_at", "expires_at"},
    "scheduler_instance": {
        "id", "instance_name", "host_name", "process_id", "mode", "status", "last_heartbeat", "started_at",
        "stopped_at",
    },
    "task_function": {"id", "key", "name_en", "name_ar", "description_en", "description_ar", "is_active"},
    "scheduler_job_type": {"id", "name", "name_en", "name_ar"},
    "scheduler_execution_status": {"id", "name", "name_en", "name_ar"},
}  # fmt: skip
# Tables the design adds to the reference's.
ADDED_TABLES = {"scheduler_audit_log", "notification_channels", "notification_deliveries"}
REFERENCE_FOREIGN_KEYS = {
    ("scheduled_job", "task_function_id", "task_function"),
    ("scheduled_job", "job_type_id", "scheduler_job_type"),
    ("scheduled_job_execution", "job_id", "scheduled_job"),
    ("scheduled_job_execution", "status_id", "scheduler_execution_status"),
    ("scheduled_job_lock", "job_id", "scheduled_job"),
}


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        engine = create_engine(sqlite_url(tmp_path / "empty.db"))
        yield engine
        await engine.dispose()
        return
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        engine = create_engine(url, pool_size=2)
        yield engine
        await engine.dispose()


def _schema(connection: Connection) -> dict[str, object]:
    inspector = inspect(connection)
    tables = {t for t in inspector.get_table_names() if include_name(t, "table", {})}
    return {
        "tables": tables,
        "columns": {t: {c["name"] for c in inspector.get_columns(t)} for t in tables},
        "foreign_keys": {
            (t, fk["constrained_columns"][0], fk["referred_table"])
            for t in tables
            for fk in inspector.get_foreign_keys(t)
        },
        "unique": {t: [tuple(u["column_names"]) for u in inspector.get_unique_constraints(t)] for t in tables},
    }


async def test_upgrade_creates_the_reference_schema(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    async with empty_engine.connect() as connection:
        schema = await connection.run_sync(_schema)
    assert schema["tables"] == {*REFERENCE_COLUMNS, *ADDED_TABLES, "alembic_version"}
    columns = schema["columns"]
    assert isinstance(columns, dict)
    for table, expected in REFERENCE_COLUMNS.items():
        assert expected <= columns[table], f"{table} lacks {expected - columns[table]}"
    assert isinstance(schema["foreign_keys"], set)
    assert schema["foreign_keys"] >= REFERENCE_FOREIGN_KEYS
    unique = schema["unique"]
    assert isinstance(unique, dict)
    assert ("job_id", "scheduled_at", "attempt") in unique["scheduled_job_execution"]
    assert await current_revision(empty_engine) == head_revision()
    await ensure_migrated(empty_engine)


async def test_models_and_migrations_agree(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
        return list(compare_metadata(context, Base.metadata))

    async with empty_engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_services_refuse_an_unmigrated_database(empty_engine: AsyncEngine) -> None:
    with pytest.raises(SchemaNotReady, match="jobscheduler migrate"):
        await ensure_migrated(empty_engine)


async def test_a_failing_migration_leaves_no_half_created_schema(empty_engine: AsyncEngine) -> None:
    # A table in the way of the last one the first migration creates: that migration must fail as a whole.
    async with empty_engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE scheduled_job_lock (x INTEGER)")
    with pytest.raises(Exception, match="scheduled_job_lock"):
        await upgrade(empty_engine)
    async with empty_engine.connect() as connection:
        schema = await connection.run_sync(_schema)
    assert schema["tables"] == {"scheduled_job_lock"}
    assert await current_revision(empty_engine) is None


async def test_upgrade_is_idempotent_and_seeds_the_primary_cleanup_job(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    await upgrade(empty_engine)
    async with empty_engine.connect() as connection:
        rows = (
            await connection.exec_driver_sql(
                "SELECT j.cron_expression, j.is_primary, t.key FROM scheduled_job j "
                "JOIN task_function t ON t.id = j.task_function_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("0 3 * * *", True, "cleanup_history")]


async def test_hot_tables_get_autovacuum_thresholds_on_postgresql_and_downgrade_resets_them(
    empty_engine: AsyncEngine,
) -> None:
    await upgrade(empty_engine)
    if empty_engine.dialect.name != "postgresql":
        return  # nothing to set on SQLite; the upgrade above must simply succeed
    query = text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)")
    names = ["scheduled_job_lock", "scheduled_job", "scheduled_job_execution"]
    async with empty_engine.connect() as connection:
        options = {row.relname: set(row.reloptions or []) for row in await connection.execute(query, {"names": names})}
        # A partitioned table holds no storage options: each partition of the executions carries migration 0003's.
        partitions = (
            await connection.execute(
                text(
                    "SELECT c.relname, c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'scheduled_job_execution'::regclass"
                )
            )
        ).all()
    assert {"autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=2000"} <= options["scheduled_job_lock"]
    assert "autovacuum_vacuum_threshold=5000" in options["scheduled_job"]
    assert len(partitions) == 3  # this week's, the next one's (7 days ahead), the default partition
    assert all("autovacuum_vacuum_scale_factor=0.05" in (row.reloptions or []) for row in partitions)
    async with empty_engine.begin() as connection:
        await connection.run_sync(_downgrade_to_0002)
        reset = {row.relname: row.reloptions for row in await connection.execute(query, {"names": names})}
    assert reset == dict.fromkeys(names)


def _downgrade_to_0002(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "0002")


async def test_the_audit_log_downgrades_away_and_upgrades_again(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    async with empty_engine.begin() as connection:
        await connection.run_sync(_downgrade_to, "0005")
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert "scheduler_audit_log" not in tables
    await upgrade(empty_engine)
    async with empty_engine.connect() as connection:
        schema = await connection.run_sync(_schema)
        indexes = await connection.run_sync(
            lambda sync: {i["name"]: i["column_names"] for i in inspect(sync).get_indexes("scheduler_audit_log")}
        )
    assert "scheduler_audit_log" in schema["tables"]  # type: ignore[operator]
    # No foreign key: the trail of a job outlives the job.
    assert not [fk for fk in schema["foreign_keys"] if fk[0] == "scheduler_audit_log"]  # type: ignore[attr-defined]
    assert indexes["ix_scheduler_audit_log_job"] == ["job_id", "occurred_at", "id"]
    assert indexes["ix_scheduler_audit_log_occurred"] == ["occurred_at", "id"]


async def test_the_history_indexes_migrate_a_populated_table_and_adopt_indexes_built_beforehand() -> None:
    """0008 on a table with runs: what it builds, what an operator built beforehand with CREATE INDEX
    CONCURRENTLY (kept as it is), what a failed concurrent build left INVALID (built again), and the downgrade."""
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        engine = create_engine(url, pool_size=2)
        try:
            await upgrade(engine, "0005")
            async with engine.begin() as connection:
                await generate_history(connection, rows=5_000, jobs=50)
            revision = ScriptDirectory.from_config(alembic_config()).get_revision("0008")
            assert revision is not None
            statements: list[str] = revision.module.concurrent_statements()
            kept, broken = statements[0], statements[1]  # the slot index; the job's
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                for statement in (kept, broken):
                    await connection.exec_driver_sql(statement)
                # What a concurrent build that failed half-way leaves behind.
                await connection.exec_driver_sql(
                    "UPDATE pg_index SET indisvalid = false "
                    "WHERE indexrelid = 'ix_scheduled_job_execution_job_slot'::regclass"
                )
                before = await _index_oids(connection)

            await upgrade(engine, "0009")  # 0010 drops two of these (its own test below)

            async with engine.connect() as connection:
                after = await _index_oids(connection)
                invalid = (
                    await connection.exec_driver_sql("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
                ).scalar_one()
                runs = (await connection.exec_driver_sql("SELECT count(*) FROM scheduled_job_execution")).scalar_one()
            assert set(after) >= HISTORY_INDEXES
            assert "ix_scheduled_job_execution_job_history" not in after  # replaced by the job's slot index
            assert after["ix_scheduled_job_execution_slot"] == before["ix_scheduled_job_execution_slot"]  # adopted
            assert after["ix_scheduled_job_execution_job_slot"] != before["ix_scheduled_job_execution_job_slot"]
            assert (invalid, runs) == (0, 5_000)

            async with engine.begin() as connection:
                await connection.run_sync(_downgrade_to, "0005")
                back = await _index_oids(connection)
            assert not HISTORY_INDEXES & set(back)
            assert "ix_scheduled_job_execution_job_history" in back
        finally:
            await engine.dispose()


async def test_fewer_execution_indexes_keep_the_runs_and_downgrade_to_the_0008_set() -> None:
    """0010 on a table with runs: the job's and the status's full slot indexes go, the rare statuses' partial one
    comes with only the rare rows in it; the downgrade brings the full ones back."""
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        engine = create_engine(url, pool_size=2)
        try:
            await upgrade(engine, "0009")
            async with engine.begin() as connection:
                await generate_history(connection, rows=5_000, jobs=50)
            await upgrade(engine)
            async with engine.connect() as connection:
                after = await _index_oids(connection)
                await connection.exec_driver_sql("SET enable_seqscan = off")
                rare = (
                    await connection.exec_driver_sql("SELECT count(*) FROM scheduled_job_execution WHERE status_id > 3")
                ).scalar_one()
                runs = (await connection.exec_driver_sql("SELECT count(*) FROM scheduled_job_execution")).scalar_one()
            assert "ix_scheduled_job_execution_rare_status_slot" in after
            assert not {"ix_scheduled_job_execution_job_slot", "ix_scheduled_job_execution_status_slot"} & set(after)
            assert 0 < rare < runs == 5_000

            async with engine.begin() as connection:
                await connection.run_sync(_downgrade_to, "0009")
                back = await _index_oids(connection)
            assert set(back) >= HISTORY_INDEXES
            assert "ix_scheduled_job_execution_rare_status_slot" not in back
        finally:
            await engine.dispose()


async def test_cancel_requests_of_held_runs_are_copied_onto_their_locks() -> None:
    """0011 on a database with runs in flight: a running run already asked to cancel has the request on its lock
    (its executor's next renewal returns it from there); the others' locks carry none."""
    async with postgres_server() as server, fresh_postgres_database(server, migrate=False) as url:
        engine = create_engine(url, pool_size=2)
        try:
            await upgrade(engine, "0010")
            async with engine.begin() as connection:
                await generate_history(connection, rows=10, jobs=2)
                await connection.exec_driver_sql(
                    "UPDATE scheduled_job_execution SET status_id = 2, cancel_requested_at = now(), "
                    "cancelled_by = CASE WHEN id % 2 = 0 THEN 'user u1' END WHERE id IN (SELECT min(id) + k "
                    "FROM scheduled_job_execution, generate_series(0, 1) AS k GROUP BY k)"
                )
                await connection.exec_driver_sql(
                    "INSERT INTO scheduled_job_lock (job_id, execution_id, locked_by, locked_at, expires_at) "
                    "SELECT job_id, execution_id, 'exec-1', now(), now() + interval '1 minute' "
                    "FROM scheduled_job_execution ORDER BY id LIMIT 3"
                )
            await upgrade(engine)
            async with engine.connect() as connection:
                rows = await connection.exec_driver_sql(
                    "SELECT l.cancel_requested_by FROM scheduled_job_lock AS l "
                    "JOIN scheduled_job_execution AS e USING (execution_id) ORDER BY e.id"
                )
                mirrored = [row[0] for row in rows]
            assert sorted(mirrored[:2]) == ["", "user u1"]
            assert mirrored[2] is None
        finally:
            await engine.dispose()


HISTORY_INDEXES = {
    "ix_scheduled_job_execution_slot",
    "ix_scheduled_job_execution_job_slot",
    "ix_scheduled_job_execution_status_slot",
    "ix_scheduled_job_execution_job_status_slot",
    "ix_scheduled_job_execution_trigger_slot",
}


async def _index_oids(connection: AsyncConnection) -> dict[str, int]:
    query = (
        "SELECT indexrelid::regclass::text, indexrelid::int FROM pg_index "
        "WHERE indrelid = 'scheduled_job_execution'::regclass"
    )
    rows: list[Any] = list(await connection.exec_driver_sql(query))
    return {str(name): int(oid) for name, oid in rows}


def _downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)

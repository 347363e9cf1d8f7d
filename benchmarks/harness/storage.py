"""What one leg wrote to PostgreSQL, per run: WAL bytes of the system's own database (read back with pg_walinspect,
so the shared server's other databases do not count), row versions of the executions table (inserts, updates,
HOT updates) and the bytes its heap and each of its indexes grew by.

WAL is read record by record between two LSNs taken before and after the leg (a temporary physical replication
slot keeps the server from recycling it meanwhile; it goes with the connection that made it, even if the harness
is killed): a record counts for this database
when one of its block references names a relation of it (`rel <tablespace>/<database oid>/<relfilenode>`), and a
record without one (a commit) when its transaction wrote such a record. Each record is attributed to the relation
of its first block reference, which gives the WAL by table and by index."""

from __future__ import annotations

from typing import Any

import asyncpg

from benchmarks.harness import pg

EXECUTIONS = "scheduled_job_execution"

_RELATIONS = """
    SELECT c.relname, c.relfilenode, pg_relation_size(c.oid) AS bytes, c.relkind::text AS relkind,
           coalesce(t.relname, c.relname) AS table_name
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_index AS i ON i.indexrelid = c.oid LEFT JOIN pg_class AS t ON t.oid = i.indrelid
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') AND c.relfilenode <> 0
"""
_TABLES = """
    SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, coalesce(seq_tup_read, 0) AS seq_tup_read,
           coalesce(idx_tup_fetch, 0) AS idx_tup_fetch
    FROM pg_stat_user_tables
"""
_INDEXES = "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes"
# By relfilenode of the first block reference; commits and other records without a block reference count for the
# transactions that wrote this database's blocks.
_WAL = """
    WITH r AS (
        SELECT xid, record_length, substring(block_ref FROM 'rel \\d+/' || $3::text || '/(\\d+)') AS filenode
        FROM pg_get_wal_records_info(CAST($1::text AS pg_lsn), CAST($2::text AS pg_lsn))
    ),
    ours AS (SELECT DISTINCT xid FROM r WHERE filenode IS NOT NULL AND xid <> '0')
    SELECT coalesce(filenode, 'transaction') AS filenode, sum(record_length)::bigint AS bytes, count(*) AS records
    FROM r
    WHERE filenode IS NOT NULL OR xid IN (SELECT xid FROM ours)
    GROUP BY 1
"""


async def _snapshot(connection: asyncpg.Connection) -> dict[str, Any]:
    """The current WAL position, the sizes of the database's tables and indexes, and the tables' counters."""
    lsn = await connection.fetchval("SELECT pg_current_wal_lsn()::text")
    relations = {row["relname"]: dict(row) for row in await connection.fetch(_RELATIONS)}
    tables = {row["relname"]: dict(row) for row in await connection.fetch(_TABLES)}
    indexes = {row["indexrelname"]: dict(row) for row in await connection.fetch(_INDEXES)}
    return {"lsn": lsn, "relations": relations, "tables": tables, "indexes": indexes}


class StorageMeter:
    """start() before the leg, per_run() after it (always close())."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._connection: asyncpg.Connection | None = None
        self._before: dict[str, Any] = {}

    async def start(self) -> None:
        self._connection = await asyncpg.connect(pg.dsn(self._database))
        await self._connection.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        slot = f"{self._database}_wal"
        await self._connection.execute("SELECT pg_create_physical_replication_slot($1, true, true)", slot)
        self._before = await _snapshot(self._connection)

    async def per_run(self, runs: int) -> dict[str, Any]:
        assert self._connection is not None
        after = await _snapshot(self._connection)
        return await _per_run(self._connection, self._database, self._before, after, runs)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


async def _per_run(
    connection: asyncpg.Connection, database: str, before: dict[str, Any], after: dict[str, Any], runs: int
) -> dict[str, Any]:
    """What the leg wrote between the two snapshots, divided by `runs` (bytes, records, row versions)."""
    runs = max(1, runs)
    oid = await connection.fetchval("SELECT oid::text FROM pg_database WHERE datname = $1", database)
    wal = await connection.fetch(_WAL, before["lsn"], after["lsn"], oid)
    names = {str(rel["relfilenode"]): name for name, rel in after["relations"].items()}
    wal_by: dict[str, float] = {}
    for row in wal:
        name = names.get(row["filenode"], "transaction" if row["filenode"] == "transaction" else "other")
        wal_by[name] = wal_by.get(name, 0) + row["bytes"]
    executions = after["tables"].get(EXECUTIONS, {})
    executions_before = before["tables"].get(EXECUTIONS, {})

    def counted(key: str) -> float:
        return round((executions.get(key, 0) - executions_before.get(key, 0)) / runs, 3)

    grown = {
        name: (rel["bytes"] - before["relations"].get(name, {}).get("bytes", 0)) / runs
        for name, rel in after["relations"].items()
    }
    execution_indexes = {
        name: round(size, 1)
        for name, size in grown.items()
        if after["relations"][name]["table_name"] == EXECUTIONS and after["relations"][name]["relkind"] == "i"
    }
    wal_indexes = sum(b for name, b in wal_by.items() if after["relations"].get(name, {}).get("relkind") == "i")
    # Per execution row written too: under a backlog the leg ends with rows inserted that have not run yet, and
    # a run claimed before the timekeeper marked it published skips that update; per row separates the two.
    rows = max(1, executions.get("n_tup_ins", 0) - executions_before.get("n_tup_ins", 0))
    return {
        "runs": runs,
        "execution_rows": rows,
        "wal_bytes_per_row": round(sum(wal_by.values()) / rows, 1),
        "updates_per_row": round((executions.get("n_tup_upd", 0) - executions_before.get("n_tup_upd", 0)) / rows, 3),
        "index_bytes_per_row": round(sum(execution_indexes.values()) * runs / rows, 1),
        "wal_bytes": round(sum(wal_by.values()) / runs, 1),
        "wal_records": round(sum(row["records"] for row in wal) / runs, 2),
        "wal_bytes_executions_heap": round(wal_by.get(EXECUTIONS, 0) / runs, 1),
        "wal_bytes_indexes": round(wal_indexes / runs, 1),
        "wal_bytes_by_relation": {k: round(v / runs, 1) for k, v in sorted(wal_by.items(), key=lambda kv: -kv[1])},
        "executions_inserts": counted("n_tup_ins"),
        "executions_updates": counted("n_tup_upd"),
        "executions_hot_updates": counted("n_tup_hot_upd"),
        "executions_heap_bytes": round(grown.get(EXECUTIONS, 0), 1),
        "executions_index_bytes": round(sum(execution_indexes.values()), 1),
        "executions_index_bytes_by_index": execution_indexes,
        "index_reads": {
            name: {
                key: round((i[key] - before["indexes"].get(name, {}).get(key, 0)) / runs, 2)
                for key in ("idx_scan", "idx_tup_read")
            }
            for name, i in after["indexes"].items()
            if i["idx_scan"] != before["indexes"].get(name, {}).get("idx_scan", 0)
        },
        "seq_tuples_read_by_table": {
            name: round((t["seq_tup_read"] - before["tables"].get(name, {}).get("seq_tup_read", 0)) / runs, 2)
            for name, t in after["tables"].items()
        },
        "tuples_read_by_table": {
            name: round(
                (
                    t["seq_tup_read"]
                    + t["idx_tup_fetch"]
                    - before["tables"].get(name, {}).get("seq_tup_read", 0)
                    - before["tables"].get(name, {}).get("idx_tup_fetch", 0)
                )
                / runs,
                2,
            )
            for name, t in after["tables"].items()
        },
    }

"""The migration leg's product side, run with the PRODUCT's interpreter by benchmarks/legs/migration.py:

    python -m benchmarks.legs.migration_product DATABASE ROWS DAYS FROM_REVISION OUT_JSON

Into a fresh database DATABASE (created here; the caller drops it): the schema at FROM_REVISION (the product's own
`upgrade`, as `jobscheduler migrate` runs it), then ROWS runs of history over DAYS days for 1,000 jobs in one
INSERT ... SELECT generate_series (tests/support/history.py), VACUUM ANALYZE; then every revision after
FROM_REVISION up to head, one `upgrade` (one transaction) each, timed, with the executions table's rows and sizes
after each. Writes every figure to OUT_JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.history_scale import SERVER, _url

JOBS = 1000
EXECUTIONS = "scheduled_job_execution"
SIZES_SQL = f"""
SELECT (SELECT count(*) FROM {EXECUTIONS}) AS rows,
       pg_table_size('{EXECUTIONS}') AS table_bytes,
       pg_indexes_size('{EXECUTIONS}') AS index_bytes,
       (SELECT count(*) FROM pg_indexes WHERE tablename = '{EXECUTIONS}') AS indexes,
       pg_database_size(current_database()) AS database_bytes
"""


def revisions_after(start: str) -> list[str]:
    """The revisions from `start` (excluded) to head, oldest first: whatever the product ships."""
    from alembic.script import ScriptDirectory

    from scheduler_core.store.migration import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.iterate_revisions("head", start))) if r.revision != start]


async def sizes(database: str) -> dict[str, Any]:
    connection = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        row = await connection.fetchrow(SIZES_SQL)
    finally:
        await connection.close()
    return {
        "rows": row["rows"],
        "table_mb": round(row["table_bytes"] / 2**20, 1),
        "indexes_mb": round(row["index_bytes"] / 2**20, 1),
        "indexes": row["indexes"],
        "database_mb": round(row["database_bytes"] / 2**20, 1),
    }


async def main(database: str, rows: int, days: float, start: str) -> dict[str, Any]:
    from scheduler_core.store.engine import create_engine
    from scheduler_core.store.migration import current_revision, upgrade
    from tests.support.history import generate_history

    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    every_s = days * 86_400 / max(1, rows // JOBS)  # each job's runs spread evenly over the days
    figures: dict[str, Any] = {"rows": rows, "days": days, "jobs": JOBS, "from_revision": start, "steps": []}
    engine = create_engine(_url(database), pool_size=1)
    try:
        await upgrade(engine, start)
        began = time.perf_counter()
        async with engine.begin() as connection:
            await generate_history(connection, rows=rows, jobs=JOBS, every_s=every_s)
        figures["load_s"] = round(time.perf_counter() - began, 1)
        vacuum = await asyncpg.connect(f"{SERVER}/{database}")
        try:
            began = time.perf_counter()
            await vacuum.execute("VACUUM ANALYZE")
            figures["vacuum_analyze_s"] = round(time.perf_counter() - began, 1)
        finally:
            await vacuum.close()
        figures["before"] = await sizes(database)
        for revision in revisions_after(start):
            began = time.perf_counter()
            await upgrade(engine, revision)
            took = time.perf_counter() - began
            figures["steps"].append({"revision": revision, "seconds": round(took, 2), **await sizes(database)})
            print(f"migration: {revision} in {took:.2f} s", flush=True)
        figures["head"] = await current_revision(engine)
    finally:
        await engine.dispose()
    return figures


if __name__ == "__main__":
    found = asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
    Path(sys.argv[5]).write_text(json.dumps(found, indent=1))

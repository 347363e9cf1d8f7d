"""The history leg's product side, run with the PRODUCT's interpreter by benchmarks/legs/history.py:

    python -m benchmarks.legs.history_product DATABASE ROWS OUT_JSON

Into a fresh database DATABASE (created and migrated to head here, with the day partitions of the history's span
where the code has them): ROWS runs of history written in one
INSERT ... SELECT generate_series (tests/support/history.py: 1,000 jobs over SPAN_DAYS days, newest now), then
VACUUM ANALYZE; the API's history pages, /status (benchmarks/history_scale.py's measure) and one POST /cleanup
that deletes the oldest CLEANUP_SHARE of the history, timed, with the disk it returned (database size before
and after). Writes every figure to OUT_JSON."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benchmarks.history_scale import API, SECRET, SERVER, _url, measure

JOBS = 1000
# Days the history spans (issue 21: 10 M runs as 60 days of 1,000 jobs), each job's runs evenly apart.
SPAN_DAYS = 60
# The share of the history (oldest first) that the timed cleanup deletes.
CLEANUP_SHARE = 0.1


async def seed(database: str, rows: int) -> dict[str, float]:
    from scheduler_core.store.engine import create_engine
    from scheduler_core.store.migration import upgrade
    from tests.support.history import generate_history

    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    engine = create_engine(_url(database), pool_size=1)
    try:
        await upgrade(engine)
        await _make_days(engine, rows)
        began = time.perf_counter()
        async with engine.begin() as connection:
            await generate_history(connection, rows=rows, jobs=JOBS, every_s=_step(rows).total_seconds())
        loaded = time.perf_counter() - began
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        began = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        vacuumed = time.perf_counter() - began
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()
    return {"load_s": round(loaded, 1), "vacuum_analyze_s": round(vacuumed, 1), "database_mb": round(size / 2**20)}


def _step(rows: int) -> timedelta:
    return timedelta(days=SPAN_DAYS) / max(1, rows // JOBS)


async def _make_days(engine: Any, rows: int) -> None:
    """The week partitions of the history's span, as a database that has run that long has them (commits before
    migration 0012 have none: the history then lies in one table)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from scheduler_core.store.backends import backend_for

    store = backend_for(str(engine.url)).store()
    partitions = getattr(store, "partitions", None)
    if partitions is None:
        return
    async with async_sessionmaker(engine)() as session:
        today = (await store.clock.now(session)).date()
    days = SPAN_DAYS + 1
    for n in range(days + 1):
        async with async_sessionmaker(engine).begin() as session:
            await partitions.make_week(session, today - timedelta(days=days - n))


async def _database_mb(database: str) -> float:
    connection = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        return float(await connection.fetchval("SELECT pg_database_size(current_database())")) / 2**20
    finally:
        await connection.close()


async def cleanup(database: str, rows: int) -> dict[str, Any]:
    """One POST /cleanup keeping all but the oldest CLEANUP_SHARE of the history (whole days), timed."""
    from scheduler_api.app import create_app
    from scheduler_core.auth.tokens import mint_super_admin_token
    from scheduler_core.bootstrap import open_database
    from scheduler_core.observability.http_server import HttpServer
    from scheduler_core.settings import Settings

    span_days = SPAN_DAYS
    retention_days = max(0, math.floor(span_days * (1 - CLEANUP_SHARE)))
    settings = Settings(database_url=_url(database), jwt_secret=SECRET, dashboard_dir=Path(__file__).parent)
    token = mint_super_admin_token(settings, SECRET, ttl=timedelta(hours=3))
    port = 19_000 + uuid.uuid4().int % 1000
    async with open_database(settings, migrate=False) as opened:
        app = create_app(settings, opened, instance_id=str(uuid.uuid4()))
        async with (
            HttpServer(app, "127.0.0.1", port, lifespan="on"),
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}{API}", headers={"Authorization": f"Bearer {token}"}, timeout=7200
            ) as client,
        ):
            size_before = await _database_mb(database)
            began = time.perf_counter()
            response = await client.post("/cleanup", json={"retentionDays": retention_days})
            took = time.perf_counter() - began
            returned_mb = size_before - await _database_mb(database)
            response.raise_for_status()
            answer = response.json()
    deleted = int(answer.get("deletedCount", 0))
    return {
        "retention_days": retention_days,
        "history_days": round(span_days, 1),
        "deleted": deleted,
        "seconds": round(took, 2),
        "returned_mb": round(returned_mb, 1),
        "rows_per_s": round(deleted / took) if took > 0 else None,
        "message": answer.get("message"),
    }


async def main(database: str, rows: int, pages: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"rows": rows, "seed": await seed(database, rows)}
    await measure(database, "leg", pages)
    figures["cleanup"] = await cleanup(database, rows)
    return figures


if __name__ == "__main__":
    out = Path(sys.argv[3])
    pages_file = out.with_suffix(".pages.jsonl")
    found = asyncio.run(main(sys.argv[1], int(sys.argv[2]), pages_file))
    found["requests"] = json.loads(pages_file.read_text().splitlines()[-1])
    out.write_text(json.dumps(found, indent=1))

"""The benchmark's own PostgreSQL databases (bench_*), created and dropped per run on the shared server."""

from __future__ import annotations

import os

import asyncpg

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
ADMIN_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"


def dsn(database: str) -> str:
    """libpq/asyncpg form."""
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def sqlalchemy_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _check_name(database: str) -> str:
    if not database.startswith("bench_") or not database.replace("_", "").isalnum():
        raise ValueError(f"refusing to touch database {database!r}: only bench_* names are ours")
    return database


#: databases this process created and has not dropped yet (see drop_remaining)
_created: set[str] = set()


async def create_database(database: str, template: str | None = None) -> None:
    """A fresh database (dropped first if a crashed run left it), optionally a copy of `template`."""
    await drop_database(database)
    _created.add(database)
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        clause = f" TEMPLATE {_check_name(template)}" if template else ""
        await connection.execute(f"CREATE DATABASE {_check_name(database)}{clause}")
    finally:
        await connection.close()


async def drop_database(database: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {_check_name(database)} WITH (FORCE)")
    finally:
        await connection.close()
    _created.discard(database)


async def drop_remaining(timeout: float = 60.0) -> list[str]:
    """Drop what a failed teardown left (e.g. while the shared server was restarting); returns what remains."""
    await wait_available(timeout)
    for database in sorted(_created):
        try:
            await drop_database(database)
        except (OSError, asyncpg.PostgresError):
            continue
    return sorted(_created)


DB_STATS = ("xact_commit", "xact_rollback", "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted")


async def wait_available(timeout: float) -> None:
    """Until PostgreSQL accepts connections (the shared server may be restarting), at most `timeout` s."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            connection = await asyncpg.connect(ADMIN_DSN)
        except (OSError, asyncpg.PostgresError):
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(1.0)
        else:
            await connection.close()
            return


async def database_stats(database: str) -> dict[str, int]:
    """Cumulative transaction and row counters of one database (pg_stat_database; flushed by backends about
    once a second and when they disconnect)."""
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        row = await connection.fetchrow(
            f"SELECT {', '.join(DB_STATS)} FROM pg_stat_database WHERE datname = $1", database
        )
    finally:
        await connection.close()
    return {name: int(row[name]) for name in DB_STATS} if row is not None else {}


async def wait_quiet(max_wait_s: float, threshold_cores: float = 0.3) -> float:
    """Wait (at most max_wait_s) until the machine's busy CPU over one second is below threshold_cores, so a
    leg does not start in the middle of somebody else's burst. Returns the last measured load in cores."""
    import asyncio

    import psutil

    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_s
    while True:
        busy = float(await asyncio.to_thread(psutil.cpu_percent, 1.0))
        cores = busy / 100 * (psutil.cpu_count() or 1)
        if cores < threshold_cores or loop.time() >= deadline:
            return cores


async def drop_leftovers(prefix: str = "bench_") -> list[str]:
    """Drop bench_* databases a killed run left behind."""
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%")
    finally:
        await connection.close()
    names = [str(row["datname"]) for row in rows]
    for name in names:
        await drop_database(name)
    return names

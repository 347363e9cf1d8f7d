"""Engine and session factory. Built by whoever starts a service and passed down; never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

# Seconds a SQLite writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False, pre_ping: bool = True) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite).

    SQLite gets what makes it safe for a scheduler: WAL (readers never block the writer), foreign keys,
    a busy timeout, and BEGIN IMMEDIATE so that a transaction takes the write lock when it starts instead
    of failing half-way when two writers meet. One pooled connection serialises this process's
    transactions, which is also what SQLite would do.

    pre_ping: test each PostgreSQL connection when it leaves the pool, so the first request after a database
    restart succeeds. It costs a round trip per transaction; the timekeeper and executor turn it off because
    they retry a failed transaction anyway (a connection that failed is discarded by the pool)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"isolation_level": None},  # we issue BEGIN ourselves, below
        )
        _install_sqlite_hooks(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
    )


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def open_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine that is disposed when the block ends."""
    engine = create_engine(url, pool_size=pool_size, pre_ping=pre_ping)
    try:
        yield engine
    finally:
        await engine.dispose()

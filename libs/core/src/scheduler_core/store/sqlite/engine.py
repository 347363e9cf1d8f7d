"""The embedded backend's engine: SQLite through aiosqlite, each statement run inline on the event loop's thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

# Milliseconds a SQLite writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

T = TypeVar("T")

# Seconds between attempts to take SQLite's write lock while another connection holds it: doubles from the
# first value up to the second.
BUSY_RETRY_PAUSE_S = (0.001, 0.05)


class InlineSqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection, with each statement run on the event loop's own thread.

    aiosqlite hands every call (execute, fetch, commit) to its worker thread and wakes the loop when it is
    done: a queue put, a thread switch and a self-pipe write per statement, which profiled at about half of the
    embedded product's CPU at a thousand runs a second. A SQLite statement on a local file with WAL and
    synchronous=NORMAL (no fsync at commit) takes microseconds, less than the hop, so running it inline is
    cheaper. The cost: a statement that runs long (a history cleanup over millions of rows) pauses this
    process's event loop for that long. Embedded mode is one process that owns its database file, which is
    what this is for; the services use PostgreSQL.

    Waiting for the write lock must not block the loop, because the holder may be another engine of this same
    process, waiting for the loop to finish its transaction: SQLite's own busy wait is off (busy_timeout 0)
    and a statement that fails with SQLITE_BUSY *before any transaction was open* (the BEGIN IMMEDIATE that
    takes the write lock, or an autocommit statement; it changed nothing) is retried after an async sleep,
    for up to SQLITE_BUSY_TIMEOUT_MS. Inside a transaction a busy error is raised as usual.

    Only the connection is opened in aiosqlite's thread (its ``_connect``), hence ``check_same_thread=False``.
    """

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run directly on it (store/sqlite/connection.py)."""
        return self._conn

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not self._busy_before_transaction(exc):
                raise
            busy = exc
        return await self._retry_while_busy(busy, fn, *args, **kwargs)

    def _busy_before_transaction(self, exc: sqlite3.OperationalError) -> bool:
        """SQLITE_BUSY from a statement run outside a transaction: it changed nothing and can be run again."""
        busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
        return busy and self._connection is not None and not self._connection.in_transaction

    async def _retry_while_busy(
        self, busy: sqlite3.OperationalError, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """Run `fn` again after async sleeps until the write lock is free; after SQLITE_BUSY_TIMEOUT_MS, raise
        the last busy error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause = BUSY_RETRY_PAUSE_S[0]
        while loop.time() + pause <= deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, BUSY_RETRY_PAUSE_S[1])
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not self._busy_before_transaction(exc):
                    raise
                busy = exc
        raise busy


def _inline_sqlite_creator(database: str) -> Callable[[], InlineSqliteConnection]:
    def connector() -> sqlite3.Connection:
        # isolation_level=None: sqlite3 never opens transactions by itself; _on_begin below does.
        return sqlite3.connect(database, isolation_level=None, check_same_thread=False)

    return lambda: InlineSqliteConnection(connector, iter_chunk_size=64)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # 0: waiting for another connection's write lock is done without blocking the loop (see
        # InlineSqliteConnection); SQLITE_BUSY_TIMEOUT_MS bounds that wait.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sqlite_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for a SQLite file, with what makes it safe for a scheduler: WAL (readers never block the
    writer), foreign keys, and BEGIN IMMEDIATE so that a transaction takes the write lock when it starts instead
    of failing half-way when two writers meet. One pooled connection serialises this process's transactions,
    which is also what SQLite would do."""
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
        async_creator=_inline_sqlite_creator(database or ":memory:"),
    )
    _install_sqlite_hooks(engine)
    return engine

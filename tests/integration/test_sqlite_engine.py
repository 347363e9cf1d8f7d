"""The embedded mode's SQLite engine: WAL, BEGIN IMMEDIATE, and statements run on the event loop's thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from scheduler_core.store.engine import create_engine


async def test_statements_run_on_the_event_loop_thread_with_wal_and_immediate_transactions(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _add_function(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    try:
        async with engine.begin() as connection:
            # No worker-thread hop per statement: the function runs where the loop runs.
            assert (await connection.execute(text("SELECT thread_id()"))).scalar_one() == threading.get_ident()
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            await connection.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(text("INSERT INTO t (v) VALUES ('c')"))
            await transaction.rollback()
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT group_concat(v) FROM t"))).scalar_one() == "a,b"
    finally:
        await engine.dispose()


async def test_two_engines_of_one_process_wait_for_each_others_write_lock(tmp_path: Path) -> None:
    """A transaction that holds the write lock across an await does not block the loop for another engine of
    the same process: the other's BEGIN IMMEDIATE waits asynchronously and goes through once it commits."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    first, second = create_engine(url), create_engine(url)
    try:
        async with first.begin() as connection:
            await connection.execute(text("CREATE TABLE t (v INTEGER)"))
        order: list[str] = []
        holding = asyncio.Event()

        async def hold() -> None:
            async with first.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                await asyncio.sleep(0.3)  # the write lock is held while the loop runs other tasks
                order.append("first commits")

        async def wait_then_write() -> None:
            await holding.wait()  # the first engine holds the write lock from here on
            async with second.begin() as connection:
                order.append("second began")
                await connection.execute(text("INSERT INTO t VALUES (2)"))

        await asyncio.wait_for(asyncio.gather(hold(), wait_then_write()), timeout=10)
        assert order == ["first commits", "second began"]
        async with second.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2
    finally:
        await first.dispose()
        await second.dispose()

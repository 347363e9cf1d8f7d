"""The embedded mode's SQLite connection, reached under SQLAlchemy for the statements run per run.

The scheduling pass, the claim and the finish run for every run the embedded process schedules. Through
SQLAlchemy each statement costs 100-200 µs of Python (compile-cache lookup, execution context, type
processing, the greenlet hop) against 5-20 µs of SQLite work; at a thousand runs a second that overhead was
most of the process's one core. These repositories therefore run those statements as plain SQL on the
sqlite3 connection of the session's own transaction, which SQLAlchemy opened (BEGIN IMMEDIATE) and will
commit or roll back: the statements are part of the caller's transaction like any other.

Values are stored exactly as SQLAlchemy's SQLite dialect stores them, so both paths read each other's rows:
instants as naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff` (which sorts and compares as time), booleans as 0/1,
JSON as text."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from functools import cache
from typing import Any, overload

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.sqlite.engine import InlineSqliteConnection

# SQLAlchemy's SQLite DATETIME storage format (sqlalchemy.dialects.sqlite.DATETIME), which to_instant writes.
STORAGE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


async def sqlite_connection(session: AsyncSession) -> sqlite3.Connection:
    """The sqlite3 connection of the session's transaction (begun if it was not yet)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not isinstance(driver, InlineSqliteConnection):
        raise TypeError(f"not an embedded SQLite connection: {type(driver).__name__}")
    return driver.sqlite


def to_instant(value: datetime | None) -> str | None:
    """An aware instant as SQLite stores it (naive UTC text); naive input is refused, as UTCDateTime does."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: scheduler instants must be timezone-aware")
        value = value.astimezone(UTC)
    # isoformat with the microseconds always written is the same text as STORAGE_FORMAT, in about 4 µs
    # against strftime's 6 (this runs for every instant of every run).
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


@overload
def from_instant(value: str) -> datetime: ...
@overload
def from_instant(value: str | None) -> datetime | None: ...
def from_instant(value: str | None) -> datetime | None:
    """A stored instant back as an aware UTC datetime (also reads CURRENT_TIMESTAMP's whole seconds)."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def from_json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


@cache
def placeholders(count: int) -> str:
    """`?, ?, …` for an IN list of `count` values (one SQL text per batch size, which sqlite3 caches)."""
    return ", ".join("?" * count)

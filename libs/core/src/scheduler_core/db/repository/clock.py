"""The database clock. Every instant the scheduler acts on comes from here, never from a host's clock,
so timekeepers and executors on machines with skewed clocks agree on what is due and what has expired."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, literal, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.types import UTCDateTime


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def now_expr(session: AsyncSession) -> ColumnElement[datetime]:
    """`now` as a SQL expression to use inside a statement.

    PostgreSQL: clock_timestamp() (the real time at execution, not the transaction's start like now()).
    SQLite runs inside this process, so its clock is this host's; CURRENT_TIMESTAMP would only have whole
    seconds, so the instant is bound as a parameter instead."""
    if is_postgres(session):
        return type_coerce(func.clock_timestamp(), UTCDateTime())
    return literal(datetime.now(UTC), UTCDateTime())


async def db_now(session: AsyncSession) -> datetime:
    """The database's current instant (aware, UTC)."""
    if is_postgres(session):
        value = (await session.execute(select(type_coerce(func.clock_timestamp(), UTCDateTime())))).scalar_one()
        assert isinstance(value, datetime)
        return value
    return datetime.now(UTC)

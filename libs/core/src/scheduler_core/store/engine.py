"""Engines and session factories. Built by whoever starts a service and passed down; never at import time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import stamina
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.store.backends import backend_for

log = structlog.get_logger(__name__)

# What an unreachable or restarting database raises: the driver's errors as SQLAlchemy wraps them, and what a
# connection attempt raises before any driver error exists.
UNREACHABLE = (OperationalError, InterfaceError, OSError, TimeoutError)
# Seconds between attempts to reach the database at start-up: exponential from the first to the second, with
# jitter, so that a fleet restarting together does not knock in step.
_RETRY_WAIT_S = (0.25, 5.0)
# Seconds one attempt may take (a connect that hangs on a black-holed address).
_ATTEMPT_TIMEOUT_S = 10.0


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached within the start-up timeout."""


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """An async engine for the URL's backend (PostgreSQL or SQLite); see each backend's engine module."""
    return backend_for(url).create_engine(url, pool_size=pool_size, pre_ping=pre_ping)


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


async def wait_until_reachable(engine: AsyncEngine, *, timeout: float) -> None:
    """Return once the database answers a query; retry connection failures with backoff for `timeout` seconds,
    one log line per failed attempt, then raise DatabaseUnavailable with the last error (a one-line reason)."""
    where = make_url(engine.url).render_as_string(hide_password=True)
    attempts = 0
    last: BaseException | None = None
    try:
        async for attempt in stamina.retry_context(
            on=UNREACHABLE,
            attempts=None if timeout > 0 else 1,
            timeout=timeout if timeout > 0 else None,
            wait_initial=_RETRY_WAIT_S[0],
            wait_max=_RETRY_WAIT_S[1],
        ):
            with attempt:
                attempts += 1
                try:
                    async with asyncio.timeout(_ATTEMPT_TIMEOUT_S), engine.connect() as connection:
                        await connection.execute(text("SELECT 1"))
                except UNREACHABLE as exc:
                    last = exc
                    log.warning("database_unreachable", url=where, attempt=attempts, error=_one_line(exc))
                    raise
    except UNREACHABLE:
        raise DatabaseUnavailable(
            f"cannot reach the database at {where} within {timeout:g} s ({attempts} attempts); "
            f"last error: {_one_line(last)}"
        ) from last
    if attempts > 1:
        log.info("database_reached", url=where, attempts=attempts)


def _one_line(exc: BaseException | None) -> str:
    """The error's first line (SQLAlchemy's messages carry the statement and a link below it)."""
    text_ = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else repr(exc)
    return f"{type(exc).__name__}: {text_}" if exc is not None else "none"

"""Engines and session factories. Built by whoever starts a service and passed down; never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.store.backends import backend_for


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

"""The standalone backend's engine: PostgreSQL through asyncpg."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_postgres_engine(url: str, *, pool_size: int = 10, echo: bool = False, pre_ping: bool = True) -> AsyncEngine:
    """pre_ping: test each connection when it leaves the pool, so the first request after a database restart
    succeeds. It costs a round trip per transaction; the timekeeper and executor turn it off because they retry
    a failed transaction anyway (a connection that failed is discarded by the pool)."""
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
    )

"""The standalone backend's engine: PostgreSQL through asyncpg."""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Session settings of every connection the product opens (PostgreSQL's own limits, enforced by the server, so
# they hold whatever state the client is in):
# - idle_in_transaction_session_timeout: the server ends a session that sits in an open transaction this long
#   without sending anything. Our transactions never wait on their client for more than milliseconds, so this
#   only ever ends a process frozen (SIGSTOP, a VM pause) or cut off mid-transaction, which would otherwise keep
#   its locks (a job's claim lock, the rows a scheduling pass writes) until TCP notices, hours later.
# - lock_timeout: no statement waits longer than this for a lock (held by such a process, or by a long
#   migration): it fails, and its caller retries (claims hand the message back, outcomes and passes retry).
IDLE_IN_TRANSACTION_TIMEOUT_MS: Final = 10_000
LOCK_TIMEOUT_MS: Final = 5_000
SESSION_SETTINGS: Final = {
    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
    "lock_timeout": str(LOCK_TIMEOUT_MS),
}


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
        connect_args={"server_settings": SESSION_SETTINGS},
    )

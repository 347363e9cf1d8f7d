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
# - plan_cache_mode: every statement planned for the values it runs with (a custom plan), never the generic plan
#   the server would otherwise cache per prepared statement after five executions. A generic plan is made once,
#   with the table statistics of that moment, and kept until the table is analysed again: made on a new database
#   (the executions table a few pages long) it reads the claim's and the finish's runs by a sequential scan of
#   the whole table, and with autovacuum off it is never made again, so every batch reads every run (measured in
#   the bench: ~2,000 rows read per run after 40 s, growing with the table). A custom plan costs its planning each
#   time (about 0.5 ms for the finish's statement, per batch of runs): the bench's CPU per 1,000 runs was no
#   higher with it, and the history's statements are planned for their values as issue 21 asks.
IDLE_IN_TRANSACTION_TIMEOUT_MS: Final = 10_000
LOCK_TIMEOUT_MS: Final = 5_000
SESSION_SETTINGS: Final = {
    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
    "lock_timeout": str(LOCK_TIMEOUT_MS),
    "plan_cache_mode": "force_custom_plan",
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

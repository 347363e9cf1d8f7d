"""Creating a missing PostgreSQL database (`jobscheduler stack`'s development convenience)."""

from __future__ import annotations

import asyncpg
import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist, connecting to the server's `postgres` database.
    The name is quoted as an identifier by the server (quote_ident), never formatted into the statement."""
    parsed = make_url(url)
    if not parsed.database:
        return
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database)
        if not exists:
            statement = await connection.fetchval("SELECT format('CREATE DATABASE %I', $1::text)", parsed.database)
            await connection.execute(statement)
            log.info("database_created", database=parsed.database)
    finally:
        await connection.close()

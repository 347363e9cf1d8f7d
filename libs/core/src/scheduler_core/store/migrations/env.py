"""Alembic environment. Used two ways:
- from code (scheduler_core.store.migration.upgrade), which hands over an open connection;
- from the `alembic` command line (alembic.ini at the repository root), which connects to
  SCHEDULER_DATABASE_URL itself."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from scheduler_core.settings import Settings
from scheduler_core.store.engine import create_engine
from scheduler_core.store.migration import include_name
from scheduler_core.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER constraints in place
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or Settings().resolved_database_url()
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

shared = context.config.attributes.get("connection")
if shared is not None:
    _run(shared)
else:
    asyncio.run(_run_standalone())

"""Schema migrations (Alembic) run from code: the `migrate` command, embedded start-up, and the
start-up check of the standalone services, which refuse to run on a schema that is not at head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store.postgres.partitions import is_partition_table

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaNotReady(RuntimeError):
    """The database schema is missing or older than this code; run `jobscheduler migrate`."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """What autogenerate compares with the models: every table but the executions' partitions (migration 0012),
    which the models do not declare."""
    return not (type_ == "table" and name is not None and is_partition_table(name))


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` in ONE transaction: on PostgreSQL and SQLite DDL is transactional,
    so a failure leaves the schema as it was, never half-created."""

    def _run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_read)


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Raise SchemaNotReady unless the schema is exactly at head."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        found = "an empty database" if current is None else f"revision {current}"
        raise SchemaNotReady(
            f"database schema is not migrated: found {found}, this version needs {head}. "
            "Run `jobscheduler migrate` (or the migrate job) first."
        )

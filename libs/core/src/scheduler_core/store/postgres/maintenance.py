"""Maintenance on PostgreSQL: autovacuum, and the statistics it runs on, server-wide and per table."""

from __future__ import annotations

from typing import Final

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from scheduler_core.store.maintenance import MaintenanceStore, MaintenanceWarning
from scheduler_core.store.models import ScheduledJob, ScheduledJobExecution, ScheduledJobLock

# The tables every run rewrites (the ones migration 0003 tunes autovacuum for).
CHURNING_TABLES: Final = (
    ScheduledJobExecution.__tablename__,
    ScheduledJobLock.__tablename__,
    ScheduledJob.__tablename__,
)

_SETTINGS: Final = text("SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'track_counts')")
# Tables of this schema, or their partitions (the executions' days), whose storage parameters switch autovacuum
# off (`autovacuum_enabled = false`, or any spelling of false PostgreSQL accepts: off, no, 0).
_DISABLED_TABLES: Final = text(
    "WITH hot AS (SELECT to_regclass(name) AS oid FROM unnest(:tables) AS name) "
    "SELECT c.relname FROM pg_class c CROSS JOIN LATERAL unnest(c.reloptions) AS option "
    "WHERE (c.oid IN (SELECT oid FROM hot) OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent IN "
    "(SELECT oid FROM hot))) "
    "AND split_part(option, '=', 1) = 'autovacuum_enabled' AND NOT split_part(option, '=', 2)::boolean "
    "ORDER BY c.relname"
).bindparams(bindparam("tables", type_=ARRAY(Text())))

_SERVER_OFF: Final = {
    "autovacuum": MaintenanceWarning(
        "autovacuum_off",
        "PostgreSQL runs with autovacuum = off: dead row versions of every run pile up in the scheduler's tables and "
        "indexes, and the time from a slot to its run grows with them. Set autovacuum = on (postgresql.conf) or "
        "VACUUM ANALYZE the scheduler's tables often.",
    ),
    "track_counts": MaintenanceWarning(
        "track_counts_off",
        "PostgreSQL runs with track_counts = off: autovacuum cannot tell which tables need vacuuming, so it never "
        "vacuums the scheduler's. Set track_counts = on (postgresql.conf).",
    ),
}


class PostgresMaintenance(MaintenanceStore):
    async def warnings(self, session: AsyncSession) -> list[MaintenanceWarning]:
        settings: dict[str, str] = {row.name: row.setting for row in await session.execute(_SETTINGS)}
        found = [warning for name, warning in _SERVER_OFF.items() if settings.get(name) == "off"]
        disabled = (await session.execute(_DISABLED_TABLES, {"tables": list(CHURNING_TABLES)})).scalars().all()
        found += [
            MaintenanceWarning(
                "table_autovacuum_disabled",
                f"autovacuum is disabled on table {table} (autovacuum_enabled = false): its dead row versions are "
                f"never removed. ALTER TABLE {table} RESET (autovacuum_enabled) turns it back on.",
            )
            for table in disabled
        ]
        return found

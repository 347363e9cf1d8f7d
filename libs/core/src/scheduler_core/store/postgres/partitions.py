"""Partitions on PostgreSQL: the executions partitioned by RANGE (scheduled_at), one partition a UTC week (Monday to
Monday), made ahead by the cleanup and dropped by it once expired (migration 0012 made the table).

A week, not a day: every statement that cannot name a slot (a history page, its total, /status) is planned over
every partition, and planning grows with their number (a history page at 10 M runs over 60 days: 23.9 ms median
with a partition a day, against 6.9 ms before partitioning; `python -m benchmarks.legs history`). Dropping costs
by bytes, not by partitions, so a week costs what its seven days would; runs are kept up to a week longer.

Names carry the bounds, so that nothing parses PostgreSQL's rendering of them: `scheduled_job_execution_w20261207`
holds the slots of the week from Monday 2026-12-07 (UTC), `scheduled_job_execution_legacy_20261214` every slot
before that day (the table as it was before 0012), and `scheduled_job_execution_default` whatever no other
partition takes.

Locks, since the runs' path writes the parent all the time: a week is made apart and then attached, which takes
SHARE UPDATE EXCLUSIVE on the parent (no DML waits for it); detaching takes ACCESS EXCLUSIVE on the parent, for a
catalog change of milliseconds, and waits for it at most LOCK_TIMEOUT (the statements queued behind it wait no
longer than that either), else it is tried again later. `DETACH … CONCURRENTLY` would not block at all, but
PostgreSQL refuses it while a default partition exists, and the default partition is what guarantees that no run
can fail to be written. The files are unlinked by a DROP of the detached table, which locks that table only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import MetaData, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution
from scheduler_core.store.partitions import Partition, PartitionStore, Step

_EXECUTIONS: Final[Table] = ScheduledJobExecution.__table__  # type: ignore[assignment]
EXECUTION: Final = ScheduledJobExecution.__tablename__
DEFAULT_PARTITION: Final = f"{EXECUTION}_default"
# The partitions this module makes and drops (and a table detached but not yet dropped): by name alone.
PARTITION_NAME: Final = re.compile(rf"^{EXECUTION}_(w|legacy_)(\d{{8}})$")
WEEK: Final = timedelta(days=7)
# Migration 0003's autovacuum thresholds for the history, which a partitioned table cannot hold: each week has them.
PARTITION_OPTIONS: Final = "autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05"
# How long a step of the cleanup waits for a lock that the runs' path holds (or queues behind it): past it, the step
# gives up and the next cleanup does it. Shorter than deadlock_timeout (1 s by default), so that when the cleanup and
# a run's transaction wait for each other, the cleanup's statement is the one that ends, never the run's.
LOCK_TIMEOUT: Final = "200ms"
# Two-key advisory lock of the cleanup: a space of its own ("JC"), apart from the claims' per-job locks.
CLEANUP_LOCK: Final = (0x4A43, 1)
_UNFINISHED: Final = tuple(int(s) for s in ExecutionStatus if not s.is_terminal)
_COUNT_NOTE: Final = re.compile(r"^runs=(\d+)$")

_TABLES: Final = text(
    "SELECT c.relname, c.relispartition, obj_description(c.oid, 'pg_class') AS note FROM pg_class c "
    "WHERE c.relkind = 'r' AND c.relnamespace = to_regnamespace(current_schema()) AND c.relname ~ :pattern"
)


def is_partition_table(name: str) -> bool:
    """Whether a table is one of the executions' partitions, or one detached to be dropped (which the models do not
    declare: autogenerate and the schema checks leave them out)."""
    return name == DEFAULT_PARTITION or PARTITION_NAME.match(name) is not None


def week_of(day: date) -> date:
    """The Monday (UTC) of the day's week: where its partition starts."""
    return day - timedelta(days=day.weekday())


def week_name(day: date) -> str:
    """The name of the partition holding the day's slots."""
    return f"{EXECUTION}_w{week_of(day):%Y%m%d}"


def _instant(day: date) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def _parse(name: str, note: str | None) -> Partition:
    match = PARTITION_NAME.match(name)
    if match is None:
        raise ValueError(f"{name} is not a partition of {EXECUTION}")
    day = datetime.combine(datetime.strptime(match.group(2), "%Y%m%d").date(), time(), UTC)
    counted = _COUNT_NOTE.match(note or "")
    runs = int(counted.group(1)) if counted else None
    if match.group(1) == "w":
        return Partition(name, day, day + WEEK, runs)
    return Partition(name, None, day, runs)


class PostgresPartitions(PartitionStore):
    def __init__(self) -> None:
        self._metadata = MetaData()

    async def try_exclusive(self, session: AsyncSession) -> bool:
        # Session-scoped, not transaction-scoped: the cleanup's transactions are short (this engine ends a session
        # idle in a transaction after a few seconds), and the lock must outlive them. Released by
        # release_exclusive, or by the server when the connection ends, whatever happens to the process.
        statement = text("SELECT pg_try_advisory_lock(:space, :key)")
        return bool((await session.execute(statement, {"space": CLEANUP_LOCK[0], "key": CLEANUP_LOCK[1]})).scalar())

    async def release_exclusive(self, session: AsyncSession) -> None:
        statement = text("SELECT pg_advisory_unlock(:space, :key)")
        await session.execute(statement, {"space": CLEANUP_LOCK[0], "key": CLEANUP_LOCK[1]})

    async def make_week(self, session: AsyncSession, day: date) -> Step:
        start = week_of(day)
        name = week_name(start)
        existing = await self._tables(session)
        covered_until = max((p.ends for p in existing.values() if p.starts is None), default=None)
        if name in existing or (covered_until is not None and start < covered_until.date()):
            return Step.SKIPPED
        lower, upper = _instant(start), _instant(start + WEEK)
        in_default = text(
            f"SELECT EXISTS (SELECT FROM {DEFAULT_PARTITION} WHERE scheduled_at >= {lower} AND scheduled_at < {upper})"
        )
        if (await session.execute(in_default)).scalar():
            return Step.SKIPPED  # its runs stay in the default partition, deleted in batches like the legacy ones
        return await _briefly(
            session,
            f"CREATE TABLE {name} (LIKE {EXECUTION} INCLUDING DEFAULTS) WITH ({PARTITION_OPTIONS})",
            f"ALTER TABLE {EXECUTION} ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})",
        )

    async def partitions(self, session: AsyncSession) -> list[Partition]:
        attached = [p for p, is_partition in (await self._rows(session)) if is_partition]
        return sorted(attached, key=lambda p: p.ends)

    async def count(self, session: AsyncSession, partition: Partition) -> int:
        runs = int((await session.execute(text(f"SELECT count(*) FROM {partition.name}"))).scalar_one())
        await session.execute(text(f"COMMENT ON TABLE {partition.name} IS 'runs={runs}'"))
        return runs

    async def expired(self, session: AsyncSession, partition: Partition, cutoff: datetime) -> bool:
        # By slot alone: a run backfilled into a week that has since expired goes with its week.
        return partition.ends <= cutoff and not await _has_open_runs(session, partition.name)

    async def detach(self, session: AsyncSession, partition: Partition) -> Step:
        # Its foreign keys go with it, in this transaction: dropping a table that still has them would lock the
        # jobs' table (their triggers live there) while the table's files are unlinked, at commit.
        foreign_keys = await _foreign_keys(session, partition.name)
        try:
            async with session.begin_nested() as savepoint:
                await _lock_briefly(
                    session,
                    f"ALTER TABLE {EXECUTION} DETACH PARTITION {partition.name}",
                    *[f"ALTER TABLE {partition.name} DROP CONSTRAINT {fk}" for fk in foreign_keys],
                )
                # Looked at again under the lock that keeps any run from being written into it from now on: a
                # retry of one of its slots may have been written since expired() looked. Then it stays.
                if await _has_open_runs(session, partition.name):
                    await savepoint.rollback()
                    return Step.SKIPPED
        except _NotGranted:
            return Step.BUSY
        return Step.DONE

    async def drop_detached(self, session: AsyncSession) -> list[str]:
        dropped = []
        for name in sorted(p.name for p, is_partition in (await self._rows(session)) if not is_partition):
            unlinked = [f"ALTER TABLE {name} DROP CONSTRAINT {fk}" for fk in await _foreign_keys(session, name)]
            if await _briefly(session, *unlinked, f"DROP TABLE {name}") is Step.DONE:
                dropped.append(name)
        return dropped

    async def batch_tables(self, session: AsyncSession, cutoff: datetime) -> list[Table]:
        """The partitions whose expired runs are deleted in batches (history.py): the slots before migration 0012
        (dropped whole once expired) and the default partition. Not the weeks, which go whole, but for one: the
        week of this instant when the cutoff falls in it (a retention under a week, such as `retentionDays: 0`),
        whose expired runs would otherwise stay until the week ends."""
        now = (await session.execute(text("SELECT now()"))).scalar_one()
        names = []
        for partition in await self.partitions(session):
            current = (
                partition.starts is not None and partition.starts <= cutoff < partition.ends and now < partition.ends
            )
            if partition.starts is None or current:
                names.append(partition.name)
        return [self._table(name) for name in [*names, DEFAULT_PARTITION]]

    def _table(self, name: str) -> Table:
        # The executions' columns under the partition's name (SQLAlchemy Core; cached: one per partition).
        if name not in self._metadata.tables:
            _EXECUTIONS.to_metadata(self._metadata, name=name)
        return self._metadata.tables[name]

    async def _tables(self, session: AsyncSession) -> dict[str, Partition]:
        return {p.name: p for p, _ in await self._rows(session)}

    @staticmethod
    async def _rows(session: AsyncSession) -> list[tuple[Partition, bool]]:
        rows = (await session.execute(_TABLES, {"pattern": PARTITION_NAME.pattern})).all()
        return [(_parse(row.relname, row.note), bool(row.relispartition)) for row in rows]


class _NotGranted(Exception):
    """A lock was not granted within LOCK_TIMEOUT."""


async def _lock_briefly(session: AsyncSession, *statements: str) -> None:
    """Run the statements, each waiting at most LOCK_TIMEOUT for its locks (else _NotGranted)."""
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    try:
        for statement in statements:
            await session.execute(text(statement))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise _NotGranted from error
        raise
    await session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


async def _briefly(session: AsyncSession, *statements: str) -> Step:
    """The statements in a savepoint, each waiting at most LOCK_TIMEOUT for its locks; BUSY (and nothing done) if a
    lock was not granted in time."""
    try:
        async with session.begin_nested():
            await _lock_briefly(session, *statements)
    except _NotGranted:
        return Step.BUSY
    return Step.DONE


async def _has_open_runs(session: AsyncSession, table: str) -> bool:
    statuses = ", ".join(str(s) for s in _UNFINISHED)
    probe = text(f"SELECT EXISTS (SELECT FROM {table} WHERE status_id IN ({statuses}))")
    return bool((await session.execute(probe)).scalar())


async def _foreign_keys(session: AsyncSession, table: str) -> list[str]:
    query = text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass) AND contype = 'f'")
    return list((await session.execute(query, {"table": table})).scalars())

"""History on PostgreSQL: the portable statements, with a total that costs the same at any size.

An exact `count(*)` of the runs a filter matches reads every one of them (0.5-0.7 s at 10 M rows, on every page).
Here the count stops at EXACT_COUNT_LIMIT + 1 rows (an index-only range scan of at most that many entries); past
it, the total is the planner's estimate of the filter's rows (EXPLAIN of the same SELECT, planned for the values
it is given), flagged as an estimate: one planning, no rows read."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from scheduler_core.store.history import EXACT_COUNT_LIMIT
from scheduler_core.store.models import ScheduledJobExecution
from scheduler_core.store.portable.history import NEWEST_FIRST, PortableHistoryStore, delete_expired
from scheduler_core.store.postgres.partitions import PostgresPartitions


class _Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) of a SELECT, its parameters bound as the SELECT's own would be."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


class PostgresHistoryStore(PortableHistoryStore):
    def __init__(self, partitions: PostgresPartitions, exact_count_limit: int = EXACT_COUNT_LIMIT) -> None:
        self._partitions = partitions
        self._exact_count_limit = exact_count_limit

    async def delete_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        # Only the partitions that are not weeks: the slots before migration 0012 and the default partition (and
        # this week's, under a retention shorter than a week: partitions.batch_tables). A week goes whole once it has
        # expired (retention.py), and deleting it row by row meanwhile would cost what dropping saves. Only slots of
        # the days before the cutoff's (UTC) day, for the same reason: the legacy partition is dropped whole once its
        # last day has expired.
        start_of_day = datetime.combine(cutoff.astimezone(UTC).date(), time(), UTC)
        deleted = 0
        for table in await self._partitions.batch_tables(session, cutoff):
            deleted += await delete_expired(
                session, table, cutoff, batch_size - deleted, table.c.scheduled_at < start_of_day
            )
            if deleted >= batch_size:
                break
        return deleted

    async def total(
        self,
        session: AsyncSession,
        conditions: list[ColumnElement[bool]],
        order: tuple[ColumnElement[Any], ...] = NEWEST_FIRST,
    ) -> tuple[int, bool]:
        # In history's order, so that the count reads the newest entries of the index a page reads, however the
        # matching rows lie in the table (unordered, a sequential scan that stops after the limit looks as cheap
        # when the filter matches most rows, and reads the whole table when they are the newest ones). The limit
        # is a literal: a generic plan of `LIMIT $1` assumes that a tenth of the rows will be read.
        capped = (
            select(literal_column("1"))
            .select_from(ScheduledJobExecution)
            .where(*conditions)
            .order_by(*order)
            .limit(literal_column(str(self._exact_count_limit + 1)))
            .subquery()
        )
        counted = int((await session.execute(select(func.count()).select_from(capped))).scalar_one())
        if counted <= self._exact_count_limit:
            return counted, False
        matching: Select[Any] = select(literal_column("1")).select_from(ScheduledJobExecution).where(*conditions)
        plan = (await session.execute(_Explain(matching))).scalar_one()
        rows = plan[0]["Plan"]["Plan Rows"]  # the dialect decodes json values (here: EXPLAIN's document)
        # At least the rows just counted: an estimate from stale statistics may be lower.
        return max(int(rows), counted), True

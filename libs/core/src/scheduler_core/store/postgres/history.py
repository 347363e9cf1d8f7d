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
from scheduler_core.store.portable.history import NEWEST_FIRST, PortableHistoryStore


class _Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) of a SELECT, its parameters bound as the SELECT's own would be."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


class PostgresHistoryStore(PortableHistoryStore):
    def __init__(self, exact_count_limit: int = EXACT_COUNT_LIMIT) -> None:
        self._exact_count_limit = exact_count_limit

    def expired(self, cutoff: datetime) -> list[ColumnElement[bool]]:
        # Only the slots of the days before the cutoff's (UTC) day: the partitions of those days are dropped whole
        # (retention.py), and the cutoff's own day goes whole the day after. Deleting its older part row by row
        # would cost, every day, what dropping saves. What is left here is the runs of the partition of the slots
        # before migration 0012, of the default partition, and of a day that still holds a run created later.
        start_of_day = datetime.combine(cutoff.astimezone(UTC).date(), time(), UTC)
        return [*super().expired(cutoff), ScheduledJobExecution.scheduled_at < start_of_day]

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

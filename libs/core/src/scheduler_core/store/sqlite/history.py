"""History on SQLite: the portable statements, with the partial indexes' own predicates spelt out.

SQLite uses a partial index only for a query whose WHERE clause contains the index's condition as one of its
terms: it does not infer `trigger <> 'schedule'` from `trigger = 'manual'`, nor `status_id > 3` from
`status_id = 4` (PostgreSQL does both). So a filter on a rare trigger, or a rare status, also states the
condition of the index that serves it; for the status the index's condition is `+status_id > 3` (migrations 0008,
0010: ix_scheduled_job_execution_rare_status_slot, and with a job ix_scheduled_job_execution_job_status_slot),
whose unary plus keeps SQLite from taking the redundant term for the index's range (it would then scan every rare
status of the job and sort them) instead of the status's equality. Only here: on PostgreSQL the redundant term
would be counted as a second filter, and the row estimates that choose its plans would be the product of both."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Integer
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from scheduler_core.store.history import ExecutionFilters
from scheduler_core.store.models import ScheduledJobExecution, Trigger
from scheduler_core.store.portable.history import (
    LAST_COMMON_STATUS,
    PortableHistoryStore,
    history_conditions,
    planned_value,
)


class SqliteHistoryStore(PortableHistoryStore):
    def conditions(self, filters: ExecutionFilters) -> list[ColumnElement[bool]]:
        execution = ScheduledJobExecution
        conditions = history_conditions(filters)
        if filters.trigger is not None and filters.trigger != Trigger.SCHEDULE:
            conditions.append(execution.trigger != planned_value(Trigger.SCHEDULE))
        if filters.status_id is not None and filters.status_id > LAST_COMMON_STATUS:
            unary_plus = UnaryExpression(execution.status_id.expression, operator=custom_op("+"), type_=Integer())
            conditions.append(unary_plus > planned_value(int(LAST_COMMON_STATUS)))
        return conditions

"""The audit trail, in SQLAlchemy (both backends: plain inserts, row-value comparisons, which PostgreSQL and
SQLite 3.15+ spell alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, delete, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.audit import AuditEntry, AuditFilters, AuditPosition, AuditStore
from scheduler_core.store.clock import Clock
from scheduler_core.store.models import SchedulerAuditLog

# Column widths (models.SchedulerAuditLog): longer text is cut rather than failing the change it records.
_SHORT: Final = 255
_REQUEST_ID: Final = 128


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


class PortableAuditStore(AuditStore):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def record(self, session: AsyncSession, entry: AuditEntry) -> SchedulerAuditLog:
        actor = entry.actor
        row = SchedulerAuditLog(
            occurred_at=await self._clock.now(session),
            actor_subject=_cut(actor.subject, _SHORT),
            actor_name=_cut(actor.name, _SHORT),
            action=entry.action.value,
            job_id=entry.job_id,
            target=_cut(entry.target, _SHORT),
            changes=None if entry.changes is None else {name: dict(change) for name, change in entry.changes.items()},
            client_address=_cut(actor.client_address, _SHORT),
            request_id=_cut(actor.request_id, _REQUEST_ID),
        )
        session.add(row)
        await session.flush()
        return row

    async def page(
        self,
        session: AsyncSession,
        filters: AuditFilters,
        *,
        limit: int,
        offset: int = 0,
        after: AuditPosition | None = None,
    ) -> list[SchedulerAuditLog]:
        log = SchedulerAuditLog
        conditions = _conditions(filters)
        if after is not None:
            # Newest first: the rows after a position are those ordered below it.
            conditions.append(tuple_(log.occurred_at, log.id) < (after.occurred_at, after.id))
        query = (
            select(log).where(*conditions).order_by(log.occurred_at.desc(), log.id.desc()).offset(offset).limit(limit)
        )
        return list((await session.execute(query)).scalars().all())

    async def count(self, session: AsyncSession, filters: AuditFilters) -> int:
        query = select(func.count()).select_from(SchedulerAuditLog).where(*_conditions(filters))
        return int((await session.execute(query)).scalar_one())

    async def delete_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        log = SchedulerAuditLog
        batch = select(log.id).where(log.occurred_at < cutoff).order_by(log.id).limit(batch_size)
        result = await session.execute(delete(log).where(log.id.in_(batch.scalar_subquery())).returning(log.id))
        return len(result.all())


def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    log = SchedulerAuditLog
    conditions: list[ColumnElement[bool]] = []
    if filters.job_id is not None:
        conditions.append(log.job_id == filters.job_id)
    if filters.actor is not None:
        conditions.append(or_(log.actor_subject == filters.actor, log.actor_name == filters.actor))
    if filters.action is not None:
        conditions.append(log.action == filters.action.value)
    if filters.occurred_from is not None:
        conditions.append(log.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        conditions.append(log.occurred_at <= filters.occurred_to)
    return conditions

"""Run locks (scheduled_job_lock): one row per running run, with a lease its executor renews."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.models import ScheduledJobLock
from scheduler_core.db.repository.clock import db_now

# The reference's default lease: locked_at + 1 hour.
DEFAULT_LOCK_TTL_S = 3600.0


class LockRepository:
    async def acquire_lock(
        self,
        session: AsyncSession,
        job_id: int,
        execution_id: str,
        instance_id: str,
        *,
        ttl: float = DEFAULT_LOCK_TTL_S,
    ) -> bool:
        """Take the lock of one run; False if the run is already locked. (The executor's claim takes its
        lock inside claim_execution, together with max_instances; this is the reference's primitive.)"""
        now = await db_now(session)
        try:
            async with session.begin_nested():
                await session.execute(
                    insert(ScheduledJobLock).values(
                        job_id=job_id,
                        execution_id=execution_id,
                        locked_by=instance_id,
                        locked_at=now,
                        expires_at=now + timedelta(seconds=ttl),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def release_lock(self, session: AsyncSession, job_id: int, execution_id: str) -> None:
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.job_id == job_id, ScheduledJobLock.execution_id == execution_id
            )
        )

    async def check_lock(self, session: AsyncSession, job_id: int) -> ScheduledJobLock | None:
        """The job's live lock that expires last, if any."""
        now = await db_now(session)
        query = (
            select(ScheduledJobLock)
            .where(ScheduledJobLock.job_id == job_id, ScheduledJobLock.expires_at > now)
            .order_by(ScheduledJobLock.expires_at.desc())
            .limit(1)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def renew_locks(
        self, session: AsyncSession, instance_id: str, ttl: float, *, execution_ids: Sequence[str] | None = None
    ) -> int:
        """Extend the locks this instance holds (all, or those of execution_ids) to now + ttl; returns how many
        it still holds. A lock the sweep already removed stays removed: the run was failed and the executor
        must not revive it."""
        now = await db_now(session)
        statement = (
            update(ScheduledJobLock)
            .where(ScheduledJobLock.locked_by == instance_id)
            .values(expires_at=now + timedelta(seconds=ttl))
            .returning(ScheduledJobLock.id)
        )
        if execution_ids is not None:
            statement = statement.where(ScheduledJobLock.execution_id.in_(execution_ids))
        result = await session.execute(statement)
        return len(result.all())

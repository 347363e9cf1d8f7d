"""Rows for tests, written through the repository like production code does."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.models import JobType, ScheduledJob
from scheduler_core.db.repository import SchedulerRepository, TaskFunctionSpec

repo = SchedulerRepository()


async def task_function(session: AsyncSession, key: str = "noop") -> int:
    await repo.upsert_task_functions(session, [TaskFunctionSpec(key=key, name_en=key.title(), name_ar="مهمة")])
    found = await repo.get_task_function_by_key(session, key)
    assert found is not None
    return found.id


async def interval_job(
    session: AsyncSession, *, next_run_at: datetime | None, seconds: int = 1, **fields: Any
) -> ScheduledJob:
    task_id = fields.pop("task_function_id", None) or await task_function(session)
    data = {
        "task_function_id": task_id,
        "job_type_id": JobType.INTERVAL,
        "interval_seconds": seconds,
        "next_run_at": next_run_at,
        "name_en": f"job {uuid.uuid4().hex[:6]}",
        **fields,
    }
    return await repo.create_job(session, data)


def new_id() -> str:
    return str(uuid.uuid4())
